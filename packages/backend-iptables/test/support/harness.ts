import { ContainerModule, DEFAULT_CONFIG, DryRunExecutor, TOKENS, createLogger, createProxy, type Batch, type Executor, type ProxyConfig, type SourceEvent } from '@kplane/core';
import { FakeClock } from '@kplane/core/testing';
import plugin, { FakeIptablesClient, IPTABLES_CLIENT, IptablesBackend } from '../../src/index.js';
import { restoreBatch } from '../../src/client/exec-client.js';

/**
 * The iptables backend behind core's engine, writing into a FakeIptablesClient: each `change()`
 * hands the engine some events and runs one sync to its end, and returns the restores the fake
 * took, as the batches `kplane plan` prints.
 */
export function harness(options: Record<string, string> = {}, config: Partial<ProxyConfig> = {}, client = new FakeIptablesClient()) {
  const module = new ContainerModule(({ bind }) => {
    bind(IPTABLES_CLIENT).toConstantValue(client);
    bind(TOKENS.Backend).to(IptablesBackend).inSingletonScope();
  });
  const recorded = () => client.restores.map(({ mode, family, input }) => restoreBatch(mode, family, input));
  return { ...drive(options, config, new DryRunExecutor(), module, recorded), client };
}

/** The same over a real kernel (a test namespace's executor), through the plugin as the agent loads it. */
export function kernelHarness(options: Record<string, string>, config: Partial<ProxyConfig>, executor: Executor) {
  return drive(options, config, executor, plugin, () => []);
}

function drive(options: Record<string, string>, config: Partial<ProxyConfig>, executor: Executor, module: ContainerModule, recorded: () => Batch[]) {
  const proxy = createProxy({
    config: {
      ...DEFAULT_CONFIG,
      nodeName: 'node-a',
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
      backendOptions: new Map(Object.entries({ mode: 'nft', ...options })),
      ...config,
    },
    executor,
    logger: createLogger(process.env.KPLANE_LOG ?? 'silent'),
    clock: new FakeClock(),
  }, module);
  const backend = proxy.backend as IptablesBackend;

  /** One sync of `events`, run to its end (the first is full); returns what was restored during it. */
  const sync = async (events: readonly SourceEvent[]): Promise<Batch[]> => {
    const before = recorded().length;
    proxy.engine.handle(events);
    if (!(await proxy.engine.sync())) throw new Error('the sync failed (KPLANE_LOG=error shows why)');
    return recorded().slice(before);
  };

  return {
    ...proxy,
    backend,
    /** init() and the first (full) sync. */
    start: async (events: readonly SourceEvent[]) => {
      await backend.init();
      return sync(events);
    },
    /** One partial sync. */
    change: sync,
  };
}
