import { DEFAULT_CONFIG, createLogger, createProxy, type Batch, type Executor, type ProxyConfig, type SourceEvent } from '@kplane/core';
import { FakeClock } from '@kplane/core/testing';
import plugin, { FakeIptables, type IptablesBackend } from '../../src/index.js';

export function upsert(object: Record<string, unknown>): SourceEvent {
  return { action: 'upsert', kind: object.kind as 'Service', object };
}

export function remove(kind: 'Service' | 'EndpointSlice', name: string, namespace = 'default'): SourceEvent {
  return { action: 'delete', kind, ref: `${namespace}/${name}` };
}

/**
 * The iptables backend behind core's engine, writing into a FakeIptables (or the kernel of a test
 * namespace): each `change()` hands the engine some events and runs one sync to its end.
 */
export function harness<E extends Executor = FakeIptables>(options: Record<string, string> = {}, config: Partial<ProxyConfig> = {}, executor?: E) {
  const target = executor ?? new FakeIptables();
  const proxy = createProxy({
    config: {
      ...DEFAULT_CONFIG,
      nodeName: 'node-a',
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
      backendOptions: new Map(Object.entries({ mode: 'nft', ...options })),
      ...config,
    },
    executor: target,
    logger: createLogger(process.env.KPLANE_LOG ?? 'silent'),
    clock: new FakeClock(),
  }, plugin);
  const backend = proxy.backend as IptablesBackend;

  const recorded: readonly Batch[] = target instanceof FakeIptables ? target.batches : [];
  /** One sync of `events`, run to its end (the first is full); returns the batches the Fake got. */
  const sync = async (events: readonly SourceEvent[]) => {
    const before = recorded.length;
    proxy.engine.handle(events);
    if (!(await proxy.engine.sync())) throw new Error('the sync failed (KPLANE_LOG=error shows why)');
    return recorded.slice(before);
  };

  return {
    ...proxy,
    backend,
    executor: target as E,
    /** init() and the first (full) sync. */
    start: async (events: readonly SourceEvent[]) => {
      await backend.init();
      return sync(events);
    },
    /** One partial sync. */
    change: sync,
  };
}
