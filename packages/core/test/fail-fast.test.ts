import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, kplane, toolShims } from './support/cli.js';
import { freePort } from './support/loopback.js';
import { stringify } from 'yaml';

const ROOT = new URL('../../../', import.meta.url).pathname;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kplane-fail-fast-'));
}

function kubeconfig(cluster: Record<string, unknown>): string {
  const file = join(tempDir(), 'kubeconfig');
  writeFileSync(file, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  }));
  return file;
}

function file(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

/** Listening on loopback only; the servers' ports are the kernel's pick. */
const SERVERS = ['--healthz-bind-address', '127.0.0.1:0', '--metrics-bind-address', '127.0.0.1:0'];
const MANIFEST = ['--source', `file:${join(ROOT, 'packages/core/test/fixtures/kube-proxy-iptables.yaml')}`];

describe('fatal configuration errors', () => {
  // One run per stage of the checks (options, backend options, source, kubeconfig); the other
  // refusals of each stage are unit tests (cli-options, kube-proxy-configuration, checked-kubeconfig).
  const cases: [string, () => string[], string][] = [
    ['a missing kubeconfig', () => ['--kubeconfig', '/nonexistent'], '--kubeconfig /nonexistent: cannot load it (ENOENT'],
    ['no kubeconfig at all, outside a cluster', () => [], 'the kubeconfig (in-cluster, $KUBECONFIG or ~/.kube/config): none found'],
    ['a placeholder API server', () => ['--kubeconfig', kubeconfig({ server: 'https://x.example.invalid:6443' })], 'server "https://x.example.invalid:6443" is a placeholder'],
    ['a kubeconfig whose CA file is missing', () => ['--kubeconfig', kubeconfig({ server: 'https://10.0.0.1:6443', 'certificate-authority': '/nonexistent/ca.crt' })], 'certificate-authority /nonexistent/ca.crt: cannot read it (ENOENT'],
    ['kubeadm\'s ConfigMap on a machine without its kubeconfig', () => ['--config', join(ROOT, 'packages/core/test/fixtures/kubeadm-kube-proxy-configmap.yaml')], 'clientConnection.kubeconfig (--config'],
    ['an unknown --backend-opt key', () => [...MANIFEST, '--backend-opt', 'transaction-element=5000'], '--backend-opt transaction-element: the nft backend has no such option (it reads: transaction-elements, parallel-transactions)'],
    ['a bad --backend-opt value', () => [...MANIFEST, '--backend-opt', 'transaction-elements=5'], '--backend-opt transaction-elements=5: expected an integer'],
    ['a bad log level', () => [...MANIFEST, '--log-level', 'loud'], '--log-level loud: expected one of'],
    ['a bad --config', () => [...MANIFEST, '--config', file('c.yaml', 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables: { masqueradeBit: 99 }\n')], ': iptables.masqueradeBit: '],
    ['a missing manifest file', () => ['--source', 'file:/nonexistent/manifests.yaml'], '--source file:/nonexistent/manifests.yaml: cannot read it (ENOENT'],
  ];

  it.each(cases)('%s: exits 1 with one line naming the setting, and no tool ran', { timeout: 60_000 }, async (_, args, message) => {
    const { env, calls } = toolShims();
    const result = await kplane(['run', ...SERVERS, ...args()], env);
    const errorLines = result.stderr.split('\n').filter((line) => line.startsWith('kplane: '));
    expect({ killed: result.killed, code: result.code, errorLines: errorLines.length }).toEqual({ killed: false, code: 1, errorLines: 1 });
    expect(errorLines[0]).toContain(message);
    expect(calls()).toEqual([]);
  });

  it('the shims do see the tools of a run that gets past its checks', { timeout: 60_000 }, async () => {
    const { env, calls } = toolShims();
    const child = spawn(CLI[0], [...CLI.slice(1), 'run', ...SERVERS, ...MANIFEST], { cwd: ROOT, env, stdio: 'ignore' });
    try {
      await until(() => calls().length > 0);
      expect(calls()[0]).toBe('nft --version');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('an API server that stays unreachable', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = null;
  });

  it('is retried with backoff while /healthz answers 503, and a stop signal ends the run cleanly', { timeout: 60_000 }, async () => {
    const healthz = await freePort();
    const refused = await freePort();
    const dir = tempDir();
    const args = [
      'run', '--backend-module', './examples/custom-backend', '--backend-opt', `file=${join(dir, 'state.jsonl')}`, '--node-name', 'n1',
      '--kubeconfig', kubeconfig({ server: `http://127.0.0.1:${refused}`, 'insecure-skip-tls-verify': true }),
      '--healthz-bind-address', `127.0.0.1:${healthz}`, '--metrics-bind-address', '',
    ];
    let stderr = '';
    const running = spawn(CLI[0], [...CLI.slice(1), ...args], { cwd: ROOT, env: { ...process.env, KUBERNETES_SERVICE_HOST: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    child = running;
    running.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => running.on('exit', (code) => resolve(code)));
    const serviceFailures = (): number => stderr.split('\n').filter((line) => line.includes('list/watch failed') && line.includes('"kind":"Service"')).length;
    // A second failure of the same list is a retry, not a crash.
    await until(() => serviceFailures() >= 2);
    expect(await status(`http://127.0.0.1:${healthz}/healthz`)).toBe(503);
    expect(running.exitCode).toBeNull();
    running.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopping; the rules stay in place');
  });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 100));
}

function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => get(url, (response) => {
    response.resume();
    resolve(response.statusCode ?? 0);
  }).on('error', reject));
}
