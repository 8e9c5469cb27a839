import { ContainerModule, DEFAULT_CONFIG, TOKENS, type ProxyConfig, type SourceEvent } from '@kplane/core';
import { endpointSliceObject, serviceObject, testProxy, upsert, type ServiceSpec } from '@kplane/core/testing';
import { FakeNftClient, NFT_CLIENT, NftBackend, type NftClient } from '../src/index.js';

export const CONFIG: ProxyConfig = {
  ...DEFAULT_CONFIG,
  nodeName: 'node-a',
  nodeIPs: ['192.168.0.10', 'fd00:1::10'],
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
};

/** The nft backend on a FakeNftClient (or on what `client` makes of it), driven by core's engine. */
export function fakeProxy(config: ProxyConfig = CONFIG, client: (nft: FakeNftClient) => NftClient = (nft) => nft) {
  const nft = new FakeNftClient();
  const plugin = new ContainerModule(({ bind }) => {
    bind(NFT_CLIENT).toConstantValue(client(nft));
    bind(TOKENS.Backend).to(NftBackend).inSingletonScope();
  });
  return { nft, ...testProxy(plugin, { config }) };
}

export function svc(name: string, spec: Partial<ServiceSpec> & { clusterIPs: readonly string[] }, protocol: 'TCP' | 'UDP' | 'SCTP' = 'TCP'): SourceEvent {
  return upsert(serviceObject(name, { ports: [{ name: 'p', port: 80, targetPort: 8080, protocol, ...(spec.type && spec.type !== 'ClusterIP' ? { nodePort: 30000 + [...name].reduce((sum, char) => sum + char.charCodeAt(0), 0) } : {}) }], ...spec }));
}

export function eps(service: string, ips: readonly string[], options: { protocol?: 'TCP' | 'UDP' | 'SCTP'; nodeName?: string; name?: string } = {}): SourceEvent {
  return upsert(endpointSliceObject(service, {
    name: options.name,
    ports: [{ name: 'p', port: 8080, protocol: options.protocol }],
    endpoints: ips.map((ip) => ({ ip, nodeName: options.nodeName ?? 'node-a' })),
  }));
}
