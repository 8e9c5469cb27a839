import { ContainerModule, DEFAULT_CONFIG, TOKENS, type Batch, type DryRunExecutor, type ProxyConfig } from '@kplane/core';
import { FakeClock, testProxy } from '@kplane/core/testing';
import { FakeIptablesClient, IPTABLES_CLIENT, IptablesBackend } from '@kplane/backend-iptables';
import { FakeIpvsClient, ipvsModule } from '@kplane/backend-ipvs';
import { FakeNftClient, NFT_CLIENT, NftBackend } from '@kplane/backend-nft';

/** A dual-stack node with NodePort addresses of both families. */
export const NODE_CONFIG: ProxyConfig = {
  ...DEFAULT_CONFIG,
  nodeName: 'node-a',
  nodeIPs: ['192.168.50.1', 'fd00:50::1'],
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
};

type TestProxy = ReturnType<typeof testProxy<DryRunExecutor>>;

/** One backend on its fake client behind core's engine, with every text it was handed (rules, and the executor's batches). */
export interface FakeBackend {
  readonly proxy: TestProxy;
  readonly clock: FakeClock;
  /** The text of every batch since the last call, as the tools would have read it. */
  takeTexts(): string[];
  /** The fake's whole kernel-like state, to compare two nodes. */
  dump(): string;
}

function batchText(batch: Batch): string {
  return `${batch.tool} ${batch.args.join(' ')}\n${batch.input}`;
}

/** Texts recorded in `list` since the last call, by `render`. */
function taker<T>(list: readonly T[], render: (item: T) => string): () => string[] {
  let seen = 0;
  return () => {
    const taken = list.slice(seen).map(render);
    seen = list.length;
    return taken;
  };
}

function withExecutor(proxy: TestProxy, clock: FakeClock, clientTexts: () => string[], dump: () => string): FakeBackend {
  const executorTexts = taker(proxy.executor.batches, batchText);
  return { proxy, clock, takeTexts: () => [...clientTexts(), ...executorTexts()], dump };
}

function nft(): FakeBackend {
  const client = new FakeNftClient();
  const clock = new FakeClock();
  const proxy = testProxy(new ContainerModule(({ bind }) => {
    bind(NFT_CLIENT).toConstantValue(client);
    bind(TOKENS.Backend).to(NftBackend).inSingletonScope();
  }), { config: NODE_CONFIG, clock });
  return withExecutor(proxy, clock, taker(client.transactions, (transaction) => transaction.toString()), () => client.dump());
}

function iptables(layout: 'tree' | 'flat'): FakeBackend {
  const client = new FakeIptablesClient();
  const clock = new FakeClock();
  const proxy = testProxy(new ContainerModule(({ bind }) => {
    bind(IPTABLES_CLIENT).toConstantValue(client);
    bind(TOKENS.Backend).to(IptablesBackend).inSingletonScope();
  }), { config: { ...NODE_CONFIG, backendOptions: new Map([['mode', 'nft'], ['layout', layout]]) }, clock });
  return withExecutor(proxy, clock, taker(client.restores, (restore) => restore.input), () => client.dump('nft', 4) + client.dump('nft', 6));
}

function ipvs(): FakeBackend {
  const client = new FakeIpvsClient({ interfaces: { eth0: ['192.168.50.1/24', 'fd00:50::1/64'] } });
  const clock = new FakeClock();
  const proxy = testProxy(ipvsModule({ client, kernelRelease: '6.1.0-50-amd64' }), { config: NODE_CONFIG, clock });
  return withExecutor(proxy, clock, taker(client.batches, (batch) => `${batch.tool}\n${batch.input}`), () => client.dump());
}

/** Each backend (and iptables layout) the fuzz runs against, by name. */
export const FAKE_BACKENDS: Readonly<Record<string, () => FakeBackend>> = {
  nft,
  'iptables tree': () => iptables('tree'),
  'iptables flat': () => iptables('flat'),
  ipvs,
};
