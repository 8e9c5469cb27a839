import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadCheckedKubeConfig } from '../src/source/kubernetes/checked-kubeconfig.js';
import { FakeApiServer } from './support/fake-api-server/index.js';
import { NODE, fillCluster } from './kubernetes/harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname;

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown> = { token: 't' }): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kplane-kubeconfig-')), 'kubeconfig');
  writeFileSync(file, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  }));
  return file;
}

describe('the kubeconfig, checked before the backend starts', () => {
  it('refuses a server that is no http(s) URL or a reserved placeholder name', () => {
    const load = (server: string) => () => loadCheckedKubeConfig(kubeconfig({ server }), '--kubeconfig');
    for (const server of ['https://x.example.invalid', 'https://api.example:6443', 'https://example.com', 'https://k8s.example.org:443', 'http://EXAMPLE.NET']) {
      expect(load(server), server).toThrow('is a placeholder (a reserved name that never resolves)');
    }
    expect(load('ftp://10.0.0.1')).toThrow('server "ftp://10.0.0.1": expected an https:// (or http://) URL');
    expect(load('not a url')).toThrow('server "not a url" is not a URL');
    for (const server of ['https://10.0.0.1:6443', 'https://[fd00::1]:6443', 'https://example.company.com', 'https://api.test:6443']) {
      expect(load(server), server).not.toThrow();
    }
  });

  it('refuses a kubeconfig it cannot read or that names no current cluster', () => {
    const directory = mkdtempSync(join(tmpdir(), 'kplane-kubeconfig-'));
    expect(() => loadCheckedKubeConfig(directory, '--kubeconfig')).toThrow(`--kubeconfig ${directory}: cannot load it (EISDIR`);
    const empty = join(directory, 'empty');
    writeFileSync(empty, 'apiVersion: v1\nkind: Config\n');
    expect(() => loadCheckedKubeConfig(empty, '--kubeconfig')).toThrow(`--kubeconfig ${empty}: cannot load it (no current cluster`);
  });

  it('refuses a client certificate, key or token file it cannot read, naming the kubeconfig and the field', () => {
    const server = 'https://10.0.0.1:6443';
    const path = kubeconfig({ server }, { 'client-certificate': '/nonexistent/tls.crt', 'client-key': '/nonexistent/tls.key' });
    expect(() => loadCheckedKubeConfig(path, 'clientConnection.kubeconfig (--config c.yaml)'))
      .toThrow(`clientConnection.kubeconfig (--config c.yaml) ${path}: client-certificate /nonexistent/tls.crt: cannot read it (ENOENT`);
    expect(() => loadCheckedKubeConfig(kubeconfig({ server }, { tokenFile: '/nonexistent/token' }), '--kubeconfig')).toThrow('token file /nonexistent/token: cannot read it');
  });
});

describe('client-go\'s tokenFile (kubeadm\'s kube-proxy kubeconfig)', () => {
  const servers: FakeApiServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  it('authenticates the requests, as kube-proxy\'s client does', { timeout: 60_000 }, async () => {
    const server = await FakeApiServer.start({ token: 'secret' });
    servers.push(server);
    fillCluster(server, 1, 1, 1);
    const dir = mkdtempSync(join(tmpdir(), 'kplane-token-'));
    writeFileSync(join(dir, 'token'), 'secret');
    const path = kubeconfig({ server: server.url, 'insecure-skip-tls-verify': true }, { tokenFile: join(dir, 'token') });
    // Unauthenticated, the lists would fail and be retried forever: the time limit turns that into a failure.
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--conditions=kplane-source', '--import', 'tsx', 'packages/core/src/cli/main.ts', 'plan', '--kubeconfig', path,
      '--node-name', NODE, '--node-ip', '192.168.0.10', '--backend-module', './examples/custom-backend', '--log-level', 'warn',
    ], { cwd: ROOT, timeout: 30_000 });
    expect(stdout).toContain('"key":"default/svc-0:http/TCP"');
  });
});
