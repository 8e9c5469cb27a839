import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { loadKubeConfig } from './cluster-client.js';

/**
 * Names reserved never to resolve (RFC 2606, RFC 6761): `.invalid`, `.example` and example.com/.net/.org.
 * A kubeconfig whose server is one of them is a template left unfilled; retrying it forever helps nobody.
 */
const PLACEHOLDER_HOST = /(^|\.)(invalid|example|example\.com|example\.net|example\.org)$/i;

/** Where client-node finds in-cluster credentials when nothing else is given. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The kubeconfig, refused at once when it cannot work: unreadable, no current cluster, a server that is
 * not an http(s) URL or is a placeholder, or a file it names (CA, client certificate and key, token) that
 * cannot be read. An API server that merely does not answer yet is not refused: the informers retry.
 */
export function loadCheckedKubeConfig(path: string | undefined, setting: string): KubeConfig {
  const what = path === undefined ? 'the kubeconfig (in-cluster, $KUBECONFIG or ~/.kube/config)' : `${setting} ${path}`;
  const fail = (message: string): never => {
    throw new Error(`${what}: ${message}`);
  };
  // With nothing to load, client-node would guess http://localhost:8080; kube-proxy refuses (no in-cluster config).
  if (path === undefined && !process.env.KUBERNETES_SERVICE_HOST && !process.env.KUBECONFIG
    && !existsSync(join(homedir(), '.kube', 'config')) && !existsSync(SERVICE_ACCOUNT_TOKEN)) {
    fail('none found: give --kubeconfig, set $KUBECONFIG, or run in a cluster');
  }
  let kubeConfig: KubeConfig | undefined;
  try {
    kubeConfig = loadKubeConfig(path);
  } catch (error) {
    fail(`cannot load it (${(error as Error).message})`);
  }
  const cluster = kubeConfig!.getCurrentCluster()!;
  let url: URL | undefined;
  try {
    url = new URL(cluster.server);
  } catch {
    fail(`server "${cluster.server}" is not a URL`);
  }
  if (url!.protocol !== 'https:' && url!.protocol !== 'http:') fail(`server "${cluster.server}": expected an https:// (or http://) URL`);
  if (PLACEHOLDER_HOST.test(url!.hostname)) fail(`server "${cluster.server}" is a placeholder (a reserved name that never resolves): set the API server's address`);
  if (path !== undefined) useTokenFile(kubeConfig!, path);
  const user = kubeConfig!.getCurrentUser();
  const files: [string, string | undefined][] = [
    ['certificate-authority', cluster.caFile],
    ['client-certificate', user?.certFile],
    ['client-key', user?.keyFile],
    ['token file', (user?.authProvider as { config?: { tokenFile?: string } } | undefined)?.config?.tokenFile],
  ];
  for (const [field, file] of files) {
    if (!file) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      fail(`${field} ${file}: cannot read it (${(error as Error).message})`);
    }
  }
  return kubeConfig!;
}

/**
 * client-go's `tokenFile` (kubeadm's kube-proxy kubeconfig authenticates with it) is unknown to
 * client-node, which reads only `token-file`, once: it becomes client-node's tokenFile auth provider,
 * which re-reads the file as the kubelet rotates the service account token.
 */
function useTokenFile(kubeConfig: KubeConfig, path: string): void {
  const current = kubeConfig.getCurrentUser();
  if (!current || current.token || current.authProvider || current.exec) return;
  const raw = parse(readFileSync(path, 'utf8')) as { users?: { name?: string; user?: { tokenFile?: unknown } }[] };
  const tokenFile = raw.users?.find((entry) => entry.name === current.name)?.user?.tokenFile;
  if (typeof tokenFile !== 'string' || tokenFile === '') return;
  const index = kubeConfig.users.indexOf(current);
  kubeConfig.users[index] = { ...current, authProvider: { name: 'tokenFile', config: { tokenFile } } };
}
