import { endpointAddress, hostCIDR, ipFamily, type Endpoint, type IptablesRules, type Protocol, type ServicePort, type ServicePortState } from '@kplane/core';
import type { TreeItem } from '../tree/prefix-tree.js';
import { addressKey } from './addresses.js';
import { CHAIN, endpointChain, externalChain, externalPickChain, firewallChain, serviceChain } from './names.js';
import type { FamilySettings } from './settings.js';

/** A destination in the tree of service IPs: address . protocol . port → the chain that handles it. */
export interface AddressItem extends TreeItem {
  readonly ip: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly target: string;
  /** Cluster IPs also reject the ports no service uses. */
  readonly clusterIP: boolean;
}

/** A node port in the tree of its protocol. */
export interface NodePortItem extends TreeItem {
  readonly protocol: Protocol;
  readonly port: number;
  readonly target: string;
}

/** Everything one service port puts into one family's nat table. */
export interface PortPlan {
  readonly chains: ReadonlyMap<string, IptablesRules>;
  readonly addresses: readonly AddressItem[];
  readonly nodePorts: readonly NodePortItem[];
}

export const EMPTY_PLAN: PortPlan = { chains: new Map(), addresses: [], nodePorts: [] };

/**
 * The chains and tree destinations of one service port in one family (pure). Cluster IPs go to
 * the pick chain (KPLANE-SVC), node ports, external and load-balancer IPs to the external chain
 * (masquerade, externalTrafficPolicy), load-balancer IPs with source ranges through a firewall
 * chain first; the pick chains choose an endpoint at random (or by affinity) among core's
 * selection, and each endpoint chain DNATs. Without a usable endpoint a frontend is rejected when
 * the port has none anywhere, dropped when it has some elsewhere (Local policies), like the nft backend.
 */
export function planPort(state: ServicePortState, settings: FamilySettings): PortPlan {
  const port = state.servicePort;
  const ofFamily = (ip: string): boolean => ipFamily(ip) === settings.family;
  const clusterIPs = port.clusterIPs.filter(ofFamily);
  if (clusterIPs.length === 0) return EMPTY_PLAN;
  const externalIPs = port.externalIPs.filter(ofFamily);
  const loadBalancerIPs = port.loadBalancerIPs.filter(ofFamily);
  const internal = state.internalEndpoints.filter((endpoint) => endpoint.family === settings.family);
  const external = state.externalEndpoints.filter((endpoint) => endpoint.family === settings.family);
  const unusable = state.endpoints.some((endpoint) => endpoint.family === settings.family && endpoint.serving) ? CHAIN.drop : CHAIN.reject;
  const protocol = port.protocol.toLowerCase();
  // Each endpoint's chain name is a hash: computed once per port, used by its chain and the picks.
  const endpointChains = new Map<string, string>();
  const chainOf = (endpoint: Endpoint): string => {
    const address = endpointAddress(endpoint);
    let chain = endpointChains.get(address);
    if (chain === undefined) endpointChains.set(address, (chain = endpointChain(port, endpoint)));
    return chain;
  };
  const pick = (endpoints: readonly Endpoint[]): string[] => pickRules(port, endpoints.map(chainOf), unusable);
  // Marked in place, not through a chain: nf_tables nests at most 15 chains, the tree needs them.
  const markMasquerade = `-j MARK --or-mark ${settings.masqueradeMark}`;

  const reachedFromOutside = externalIPs.length > 0 || loadBalancerIPs.length > 0 || port.nodePort !== null;
  // In dependency order (a chain after the chains it jumps to), so that a full sync can be split anywhere.
  const chains = new Map<string, IptablesRules>();
  const affinity = port.affinityTimeoutSeconds !== null;
  for (const endpoint of uniqueEndpoints([...internal, ...(reachedFromOutside ? external : [])])) {
    const chain = chainOf(endpoint);
    chains.set(chain, [
      // Hairpin: an endpoint reaching itself through the service must see a reply from the service.
      `-s ${hostCIDR(endpoint.ip)} ${markMasquerade}`,
      `-p ${protocol}${affinity ? ` -m recent --name ${chain} --set` : ''} -j DNAT --to-destination ${endpointAddress(endpoint)}`,
    ]);
  }

  const service = serviceChain(port);
  const masquerade = internal.length > 0 && (settings.masqueradeAll || settings.clusterCIDRs.length > 0);
  chains.set(service, [
    ...(masquerade ? clusterIPs.map((ip) => `-d ${hostCIDR(ip)} -p ${protocol} -m ${protocol} --dport ${port.port} -j ${CHAIN.clusterMasquerade}`) : []),
    ...pick(internal),
  ]);
  const addresses = clusterIPs.map((ip) => addressItem(ip, port, service, true));
  const nodePorts: NodePortItem[] = [];

  if (reachedFromOutside) {
    const ext = externalChain(port);
    let externalPick = service;
    if (!sameEndpoints(internal, external)) {
      externalPick = externalPickChain(port);
      chains.set(externalPick, pick(external));
    }
    chains.set(ext, port.externalTrafficLocal
      // Local: outside clients keep their source and reach only this node's endpoints; pods and the
      // node itself still reach every endpoint (kube-proxy's short-circuit).
      ? [
        ...settings.clusterCIDRs.map((cidr) => `-s ${cidr} -j ${service}`),
        `-m addrtype --src-type LOCAL ${markMasquerade}`,
        `-m addrtype --src-type LOCAL -j ${service}`,
        `-j ${externalPick}`,
      ]
      : [markMasquerade, `-j ${externalPick}`]);
    let loadBalancerTarget = ext;
    if (loadBalancerIPs.length > 0 && port.loadBalancerSourceRanges.length > 0) {
      loadBalancerTarget = firewallChain(port);
      chains.set(loadBalancerTarget, [
        ...port.loadBalancerSourceRanges.filter((cidr) => ofFamily(cidr.split('/')[0]!)).map((cidr) => `-s ${cidr} -j ${ext}`),
        `-j ${CHAIN.drop}`,
      ]);
    }
    addresses.push(...externalIPs.map((ip) => addressItem(ip, port, ext, false)), ...loadBalancerIPs.map((ip) => addressItem(ip, port, loadBalancerTarget, false)));
    if (port.nodePort !== null) nodePorts.push({ id: `${port.protocol} ${port.nodePort} ${ext}`, key: BigInt(port.nodePort), protocol: port.protocol, port: port.nodePort, target: ext });
  }
  return { chains, addresses, nodePorts };
}

/** Random choice among endpoint chains (the n-th of k remaining rules takes 1/k), after affinity checks; or the unusable verdict. */
function pickRules(port: ServicePort, chains: readonly string[], unusable: string): string[] {
  if (chains.length === 0) return [`-j ${unusable}`];
  const affinity = port.affinityTimeoutSeconds === null
    ? []
    : chains.map((chain) => `-m recent --name ${chain} --rcheck --seconds ${port.affinityTimeoutSeconds} --reap -j ${chain}`);
  const random = chains.map((chain, index) => {
    const remaining = chains.length - index;
    return remaining > 1 ? `-m statistic --mode random --probability ${(1 / remaining).toFixed(10)} -j ${chain}` : `-j ${chain}`;
  });
  return [...affinity, ...random];
}

function addressItem(ip: string, port: ServicePort, target: string, clusterIP: boolean): AddressItem {
  return { id: `${ip} ${port.protocol} ${port.port} ${target}`, key: addressKey(ip), ip, protocol: port.protocol, port: port.port, target, clusterIP };
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a.length === b.length && a.every((endpoint, index) => endpointAddress(endpoint) === endpointAddress(b[index]!));
}

function uniqueEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  return [...new Map(endpoints.map((endpoint) => [endpointAddress(endpoint), endpoint])).values()];
}
