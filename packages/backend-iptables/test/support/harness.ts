import { ContainerModule, TOKENS, type Batch, type Executor, type ProxyConfig, type SourceEvent } from '@kplane/core';
import { testProxy } from '@kplane/core/testing';
import plugin, { FakeIptablesClient, IPTABLES_CLIENT, IptablesBackend } from '../../src/index.js';
import { restoreBatch } from '../../src/client/exec-client.js';

/** The node these tests run on: pod CIDRs of both families, iptables-nft unless the options say otherwise. */
function nodeConfig(options: Record<string, string>, config: Partial<ProxyConfig>): Partial<ProxyConfig> {
  return { clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'], backendOptions: new Map(Object.entries({ mode: 'nft', ...options })), ...config };
}

/**
 * The iptables backend behind core's engine (core's testProxy), writing into a FakeIptablesClient:
 * `start()` and each `change()` run one sync to its end and return the restores the fake took
 * during it, as the batches `kplane plan` prints.
 */
export function harness(options: Record<string, string> = {}, config: Partial<ProxyConfig> = {}, client = new FakeIptablesClient()) {
  const proxy = testProxy(new ContainerModule(({ bind }) => {
    bind(IPTABLES_CLIENT).toConstantValue(client);
    bind(TOKENS.Backend).to(IptablesBackend).inSingletonScope();
  }), { config: nodeConfig(options, config) });
  const restored = async (sync: () => Promise<unknown>): Promise<Batch[]> => {
    const before = client.restores.length;
    await sync();
    return client.restores.slice(before).map(({ mode, family, input }) => restoreBatch(mode, family, input));
  };
  return {
    ...proxy,
    backend: proxy.backend as IptablesBackend,
    client,
    /** init() and the first (full) sync. */
    start: (events: readonly SourceEvent[]) => restored(() => proxy.start(events)),
    /** One more sync (partial unless something asks for a full one). */
    change: (events: readonly SourceEvent[]) => restored(() => proxy.sync(events)),
  };
}

/** The same over a real kernel (a test namespace's executor), through the plugin as the agent loads it. */
export function kernelHarness(options: Record<string, string>, config: Partial<ProxyConfig>, executor: Executor) {
  const proxy = testProxy(plugin, { config: nodeConfig(options, config), executor });
  return { ...proxy, backend: proxy.backend as IptablesBackend, change: proxy.sync };
}
