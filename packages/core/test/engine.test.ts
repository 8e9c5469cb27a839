import { describe, expect, it } from 'vitest';
import { engineHarness, web, webEndpoints } from './support/engine-harness.js';
import { RecordingBackend } from './support/recording-backend.js';

const KEY = 'default/web:http/TCP';

describe('Engine scheduling', () => {
  it('syncs a change after an idle period at once, and coalesces a burst behind --min-sync-period', async () => {
    const { clock, backend, engine } = engineHarness({ minSyncPeriodMs: 1000 });
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(1);
    expect(backend.syncs[0]).toMatchObject({ full: true, changed: [KEY] });

    await clock.advance(5000);
    engine.handle([webEndpoints(['10.1.0.2'])]);
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(2);
    expect(backend.syncs[1]).toMatchObject({ full: false, changed: [KEY] });

    for (let i = 3; i < 50; i++) engine.handle([webEndpoints([`10.1.0.${i}`])]);
    await clock.advance(999);
    expect(backend.syncs).toHaveLength(2);
    await clock.advance(1);
    expect(backend.syncs).toHaveLength(3);
    expect(backend.syncs[2]!.endpoints[KEY]).toEqual(['10.1.0.49:8080']);
  });

  it('reconciles in full every --sync-period', async () => {
    const { clock, backend, engine } = engineHarness({ syncPeriodMs: 60_000 });
    engine.handle([web()]);
    engine.start();
    await clock.advance(59_999);
    expect(backend.syncs).toHaveLength(1);
    await clock.advance(1);
    expect(backend.syncs).toHaveLength(2);
    expect(backend.syncs[1]).toMatchObject({ full: true, changed: [] });
  });

  it('keeps changes after a failure, backs off exponentially and resyncs in full', async () => {
    const { clock, backend, engine, metrics } = engineHarness({ minSyncPeriodMs: 1000 });
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    engine.handle([webEndpoints(['10.1.0.2'])]);
    backend.failNext = 3;
    await clock.advance(1000);
    expect(backend.syncs).toHaveLength(1);
    await clock.advance(1000);
    await clock.advance(2000);
    expect(backend.syncs).toHaveLength(1);
    await clock.advance(3999);
    expect(backend.syncs).toHaveLength(1);
    await clock.advance(1);
    expect(backend.syncs).toHaveLength(2);
    expect(backend.syncs[1]).toMatchObject({ full: true, changed: [KEY] });
    expect(backend.syncs[1]!.endpoints[KEY]).toEqual(['10.1.0.2:8080']);
    const errors = await metrics.registry.getSingleMetricAsString('kplane_backend_sync_errors_total');
    expect(errors).toContain('kplane_backend_sync_errors_total{backend="recording"} 3');
  });

  it('runs a new change at once while backing off, so a fixed tool recovers with the next change', async () => {
    const { clock, backend, engine } = engineHarness({ minSyncPeriodMs: 1000 });
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    backend.failNext = 100;
    engine.handle([webEndpoints(['10.1.0.2'])]);
    // Failures at 1, 2, 4, ... 128 s: the backoff's next retry is at 256 s.
    await clock.advance(200_000);
    expect(backend.syncs).toHaveLength(1);
    backend.failNext = 0;
    engine.handle([webEndpoints(['10.1.0.3'])]);
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(2);
    expect(backend.syncs[1]!.endpoints[KEY]).toEqual(['10.1.0.3:8080']);
  });
});

describe('Engine drain', () => {
  it('drains an endpoint that leaves the selection until its connections end', async () => {
    const { clock, backend, engine } = engineHarness({ drainGraceMs: 30_000 });
    engine.handle([web(), webEndpoints(['10.1.0.1', '10.1.0.2'])]);
    engine.start();
    await clock.advance(0);
    backend.connections.set('10.1.0.1:8080', 3);
    engine.handle([webEndpoints(['10.1.0.1', '10.1.0.2'], { terminating: ['10.1.0.1'] })]);
    await clock.advance(1000);
    expect(backend.syncs.at(-1)).toMatchObject({ endpoints: { [KEY]: ['10.1.0.2:8080'] }, draining: { [KEY]: ['10.1.0.1:8080'] } });
    await clock.advance(5000);
    expect(backend.syncs.at(-1)!.draining).toEqual({ [KEY]: ['10.1.0.1:8080'] });
    backend.connections.set('10.1.0.1:8080', 0);
    await clock.advance(2000);
    expect(backend.syncs.at(-1)).toMatchObject({ changed: [KEY], draining: {} });
  });

  it('ends a drain at the grace deadline even with open connections', async () => {
    const { clock, backend, engine } = engineHarness({ drainGraceMs: 10_000 });
    engine.handle([web(), webEndpoints(['10.1.0.1', '10.1.0.2'])]);
    engine.start();
    await clock.advance(0);
    backend.connections.set('10.1.0.1:8080', 5);
    engine.handle([webEndpoints(['10.1.0.2'])]);
    await clock.advance(1000);
    const drainStart = backend.syncs.length;
    expect(backend.syncs.at(-1)!.draining).toEqual({ [KEY]: ['10.1.0.1:8080'] });
    await clock.advance(9000);
    expect(backend.syncs.at(-1)!.draining).toEqual({ [KEY]: ['10.1.0.1:8080'] });
    await clock.advance(1000);
    expect(backend.syncs.length).toBe(drainStart + 1);
    expect(backend.syncs.at(-1)!.draining).toEqual({});
  });

  it('does not drain when no endpoint remains, and stops draining an endpoint that comes back', async () => {
    const { clock, backend, engine } = engineHarness();
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    backend.connections.set('10.1.0.1:8080', 1);
    engine.handle([webEndpoints([])]);
    await clock.advance(1000);
    expect(backend.syncs.at(-1)!.draining).toEqual({});
    engine.handle([webEndpoints(['10.1.0.1', '10.1.0.2'])]);
    await clock.advance(1000);
    engine.handle([webEndpoints(['10.1.0.2'])]);
    await clock.advance(1000);
    expect(backend.syncs.at(-1)!.draining).toEqual({ [KEY]: ['10.1.0.1:8080'] });
    engine.handle([webEndpoints(['10.1.0.1', '10.1.0.2'])]);
    await clock.advance(1000);
    expect(backend.syncs.at(-1)).toMatchObject({ draining: {}, endpoints: { [KEY]: ['10.1.0.1:8080', '10.1.0.2:8080'] } });
  });
});

describe('Engine drain of UDP endpoints', () => {
  it('drains a terminating UDP endpoint, but cuts one removed from its slices at once', async () => {
    const { clock, backend, engine } = engineHarness();
    engine.handle([web('10.96.0.1', 'UDP'), webEndpoints(['10.1.0.1', '10.1.0.2', '10.1.0.3'], { protocol: 'UDP' })]);
    engine.start();
    await clock.advance(0);
    backend.connections.set('10.1.0.1:8080', 1);
    backend.connections.set('10.1.0.2:8080', 1);
    engine.handle([webEndpoints(['10.1.0.1', '10.1.0.3'], { protocol: 'UDP', terminating: ['10.1.0.1'] })]);
    await clock.advance(1000);
    expect(backend.syncs.at(-1)!.draining).toEqual({ 'default/web:http/UDP': ['10.1.0.1:8080'] });
    engine.handle([webEndpoints(['10.1.0.3'], { protocol: 'UDP' })]);
    await clock.advance(1000);
    expect(backend.syncs.at(-1)!.draining).toEqual({});
  });
});

describe('Engine conntrack cleanup', () => {
  it('deletes flows of a removed UDP endpoint, and un-NATed flows when a service gets its first endpoint', async () => {
    const udp = engineHarness({ drainGraceMs: 0 }, new RecordingBackend(true));
    udp.engine.handle([web('10.96.0.1', 'UDP'), webEndpoints(['10.1.0.1', '10.1.0.2'], { protocol: 'UDP' })]);
    udp.engine.start();
    await udp.clock.advance(0);
    expect(udp.executor.batches).toEqual([]);
    udp.engine.handle([webEndpoints(['10.1.0.2'], { protocol: 'UDP' })]);
    await udp.clock.advance(1000);
    expect(udp.executor.batches.map((batch) => batch.args.join(' '))).toEqual(['-D -f ipv4 -p udp --dst-nat 10.1.0.1 --reply-port-src 8080']);
    udp.engine.handle([webEndpoints([], { protocol: 'UDP' })]);
    await udp.clock.advance(1000);
    udp.engine.handle([webEndpoints(['10.1.0.3'], { protocol: 'UDP' })]);
    await udp.clock.advance(1000);
    expect(udp.executor.batches.map((batch) => batch.args.join(' ')).slice(1)).toEqual([
      '-D -f ipv4 -p udp --dst-nat 10.1.0.2 --reply-port-src 8080',
      '-D -f ipv4 -p udp --orig-dst 10.96.0.1 --orig-port-dst 80 --reply-src 10.96.0.1',
    ]);
  });
});
