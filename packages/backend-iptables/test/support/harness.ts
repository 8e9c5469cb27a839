import { DEFAULT_CONFIG, createLogger, createProxy, type ProxyConfig, type SourceEvent } from '@kplane/core';
import { FakeClock } from '@kplane/core/testing';
import plugin, { FakeIptables, type IptablesBackend } from '../../src/index.js';

export function upsert(object: Record<string, unknown>): SourceEvent {
  return { action: 'upsert', kind: object.kind as 'Service', object };
}

export function remove(kind: 'Service' | 'EndpointSlice', name: string, namespace = 'default'): SourceEvent {
  return { action: 'delete', kind, ref: `${namespace}/${name}` };
}

/**
 * The iptables backend behind core's engine on a fake clock, writing into a FakeIptables: each
 * `change()` is one sync, and returns the batches that sync sent.
 */
export function harness(options: Record<string, string> = {}, config: Partial<ProxyConfig> = {}, fake = new FakeIptables()) {
  const clock = new FakeClock();
  const proxy = createProxy({
    config: {
      ...DEFAULT_CONFIG,
      nodeName: 'node-a',
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
      backendOptions: new Map(Object.entries({ mode: 'nft', ...options })),
      ...config,
    },
    executor: fake,
    logger: createLogger('error'),
    clock,
  }, plugin);
  const backend = proxy.backend as IptablesBackend;

  const syncErrors = async (): Promise<number> => (await proxy.metrics.syncErrors.get()).values.reduce((sum, value) => sum + value.value, 0);

  const sync = async (run: () => Promise<void>) => {
    const before = fake.batches.length;
    const errors = await syncErrors();
    await run();
    if ((await syncErrors()) !== errors) throw new Error('the sync failed (the error is logged above)');
    return fake.batches.slice(before);
  };

  return {
    ...proxy,
    backend,
    clock,
    fake,
    /** init() and the first (full) sync of `events`. */
    start: (events: readonly SourceEvent[]) => sync(async () => {
      await backend.init();
      proxy.engine.handle(events);
      proxy.engine.start();
      await clock.advance(0);
    }),
    /** One partial sync of `events`. */
    change: (events: readonly SourceEvent[]) => sync(async () => {
      proxy.engine.handle(events);
      await clock.advance(DEFAULT_CONFIG.minSyncPeriodMs);
    }),
  };
}
