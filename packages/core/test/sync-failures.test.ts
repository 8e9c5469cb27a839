import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { summarizeBatch } from '../src/backend/executor.js';
import { ContainerModule, DEFAULT_CONFIG, TOKENS, ToolError, createProxy, type SyncRequest } from '../src/index.js';
import { FakeClock } from '../src/testing/index.js';
import { web, webEndpoints } from './support/engine-harness.js';
import { RecordingBackend } from './support/recording-backend.js';

/** A backend whose syncs fail with `error` while it is set, as a backend fails when its tool does. */
class FailingBackend extends RecordingBackend {
  error: Error | null = null;
  attempts: boolean[] = [];

  override async sync(request: SyncRequest): Promise<void> {
    this.attempts.push(request.full);
    if (this.error) throw this.error;
    await super.sync(request);
  }
}

/** An engine on a fake clock whose log records are kept in `logs`. */
function failingProxy(config: Partial<typeof DEFAULT_CONFIG> = {}) {
  const backend = new FailingBackend();
  const clock = new FakeClock();
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({ write: (chunk: Buffer, _, done) => done(void logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>)) });
  const proxy = createProxy({ config: { ...DEFAULT_CONFIG, nodeName: 'node-a', minSyncPeriodMs: 1000, ...config }, executor: { live: false, apply: async () => {}, read: async () => '' }, logger: pino(stream), clock },
    new ContainerModule(({ bind }) => void bind(TOKENS.Backend).toConstantValue(backend)));
  const counter = async (name: string) => Number(/ (\d+)$/m.exec(await proxy.metrics.registry.getSingleMetricAsString(name))?.[1] ?? 0);
  return { ...proxy, backend, clock, logs, counter };
}

const nftRefusal = () => new ToolError('nft', 1, 'Error: Could not process rule: No such file or directory\nadd element ip kplane ips { 10.96.0.1 }\n',
  summarizeBatch({ tool: 'nft', args: ['-f', '-'], input: `add element ip kplane ips { 10.96.0.1 }\n${'add rule ip kplane svc-web tcp dport 80 accept\n'.repeat(100_000)}` }));

describe('Engine after a failed sync', () => {
  it('counts a failed partial sync, falls back to full syncs with capped exponential backoff, and syncs partially again once one succeeds', async () => {
    const { clock, backend, engine, counter } = failingProxy();
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    backend.error = nftRefusal();
    engine.handle([webEndpoints(['10.1.0.2'])]);
    await clock.advance(1000);
    expect(backend.attempts).toEqual([true, false]);
    expect(await counter('kplane_partial_sync_failures_total')).toBe(1);
    // Retries 1, 2, 4, ... s apart, every one full: only the partial one counts as a partial failure.
    for (const delay of [1000, 2000, 4000, 8000]) await clock.advance(delay);
    expect(backend.attempts).toEqual([true, false, true, true, true, true]);
    expect(await counter('kplane_partial_sync_failures_total')).toBe(1);
    expect(await counter('kplane_backend_sync_errors_total')).toBe(5);
    // The delay stops doubling at 5 min.
    await clock.advance(3_600_000);
    const retries = backend.attempts.length;
    await clock.advance(300_000);
    expect(backend.attempts.length).toBe(retries + 1);
    backend.error = null;
    await clock.advance(300_000);
    expect(backend.syncs[1]).toMatchObject({ full: true, endpoints: { 'default/web:http/TCP': ['10.1.0.2:8080'] } });
    engine.handle([webEndpoints(['10.1.0.3'])]);
    await clock.advance(1000);
    expect(backend.syncs.at(-1)!.full).toBe(false);
    expect(await counter('kplane_partial_sync_failures_total')).toBe(1);
    await engine.stop();
  });

  it('logs the tool, its exit code, its stderr and the batch, not the batch\'s whole input', async () => {
    const { clock, backend, engine, logs } = failingProxy();
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    backend.error = nftRefusal();
    engine.start();
    await clock.advance(0);
    const failure = logs.find((log) => log.msg === 'sync failed; the dataplane keeps its last good rules, retrying with backoff');
    expect(failure).toMatchObject({
      level: 50,
      full: true,
      tool: 'nft',
      exitCode: 1,
      stderr: 'Error: Could not process rule: No such file or directory\nadd element ip kplane ips { 10.96.0.1 }',
      batch: { command: 'nft -f -', bytes: 4_700_040, lines: 100_001, head: ['add element ip kplane ips { 10.96.0.1 }', 'add rule ip kplane svc-web tcp dport 80 accept', 'add rule ip kplane svc-web tcp dport 80 accept'] },
    });
    expect(JSON.stringify(failure).length).toBeLessThan(4000);
    await engine.stop();
  });

  it('turns /healthz unhealthy when a sync nobody queued fails (the periodic full one) past --healthz-timeout, and healthy after recovery', async () => {
    const { clock, backend, engine } = failingProxy({ syncPeriodMs: 60_000, healthzTimeoutMs: 10_000 });
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    backend.error = nftRefusal();
    await clock.advance(60_000);
    expect(backend.attempts).toEqual([true, true]);
    await clock.advance(9_999);
    expect(engine.health.healthz().healthy).toBe(true);
    await clock.advance(1);
    expect(engine.health.healthz().healthy).toBe(false);
    backend.error = null;
    await clock.advance(16_000);
    expect(backend.syncs).toHaveLength(2);
    expect(engine.health.healthz().healthy).toBe(true);
    await engine.stop();
  });
});
