import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { NODE, fillCluster } from './harness.js';

const run = promisify(execFile);
const ROOT = new URL('../../../../', import.meta.url).pathname;
const kplane = (...args: string[]) =>
  run(process.execPath, ['--conditions=kplane-source', '--import', 'tsx', 'packages/core/src/cli/main.ts', ...args], { cwd: ROOT });

const servers: FakeApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('kplane --source kubernetes', () => {
  it('plans from the cluster in the kubeconfig', { timeout: 60_000 }, async () => {
    const server = await FakeApiServer.start({ token: 'secret' });
    servers.push(server);
    fillCluster(server, 3, 2, 1);
    const { stdout } = await kplane('plan', '--kubeconfig', server.writeKubeconfig(), '--node-name', NODE, '--node-ip', '192.168.0.10',
      '--backend-module', './examples/custom-backend', '--log-level', 'warn');
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['# tee kplane-state.jsonl', '{"op":"reset"}']);
    expect(lines.slice(2).map((line) => JSON.parse(line) as { key: string; endpoints: string[] })).toEqual([0, 1, 2].map((index) => expect.objectContaining({
      key: `default/svc-${index}:http/TCP`,
      endpoints: [`10.1.${index}.1:8080`, `10.1.${index}.2:8080`],
    })));
  });

  it('refuses an unknown source and nonsense client limits', { timeout: 60_000 }, async () => {
    await expect(kplane('plan', '--source', 'etcd')).rejects.toMatchObject({ stderr: expect.stringContaining('--source etcd: expected "kubernetes" or "file:PATH"') });
    await expect(kplane('plan', '--kube-api-qps', '0')).rejects.toMatchObject({ stderr: expect.stringContaining('--kube-api-qps 0: expected a positive number') });
  });
});
