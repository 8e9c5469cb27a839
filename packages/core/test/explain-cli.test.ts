import { describe, expect, it } from 'vitest';
import { kplane, ROOT, toolShims } from './support/cli.js';

const SOURCE = `file:${ROOT}packages/core/test/fixtures/explain-services.yaml`;

describe('kplane explain and plan --diff', () => {
  it('explain --source explains a Service offline: the port left out, the selection, the healthCheckNodePort answer', async () => {
    const { env } = toolShims();
    const result = await kplane(['explain', 'svc/shop/web', '--source', SOURCE, '--node-name', 'node-a', '--log-level', 'error'], env, 60_000);
    expect(result).toMatchObject({ code: 0, killed: false });
    expect(result.stdout).toContain('Service shop/web: accepted');
    expect(result.stdout).toContain('left out: Service shop/web: spec.ports[1].protocol');
    expect(result.stdout).toContain('external traffic: externalTrafficPolicy Local: this node\'s endpoints; 1 ready endpoint');
    expect(result.stdout).toMatch(/10\.1\.0\.2:8080 +serving,terminating +node node-b → no new connections/);
    expect(result.stdout).toContain('healthCheckNodePort 32000: 200');
    const json = await kplane(['explain', 'svc/shop/web', '--source', SOURCE, '--node-name', 'node-a', '--log-level', 'error', '-o', 'json'], env, 60_000);
    expect(JSON.parse(json.stdout)).toMatchObject({ service: 'shop/web', accepted: true, ports: [{ key: 'shop/web:http/TCP' }] });
  }, 120_000);

  it('explain without --source asks the agent, and says so when none answers', async () => {
    const { env } = toolShims();
    const result = await kplane(['explain', 'svc/shop/web', '--metrics-bind-address', '127.0.0.1:1'], env, 60_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no agent answered at http://127.0.0.1:1/debug/services/shop/web');
  }, 60_000);

  it('plan --diff prints the drift and exits 1 (a kernel whose reads show nothing of kplane\'s)', async () => {
    const { env, calls } = toolShims();
    const result = await kplane(['plan', '--diff', '--source', SOURCE, '--log-level', 'error'], env, 60_000);
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')).toContain('ip: table kplane is missing');
    expect(calls().filter((call) => call.startsWith('nft -f'))).toEqual([]);
  }, 60_000);
});
