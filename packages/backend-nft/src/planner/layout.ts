import type { ProxyConfig } from '@kplane/core';
import { cidrContains, ipFamily, masqueradeMark } from '@kplane/core';
import type { BaseChainSpec, NftFamily } from '../client/transaction.js';

/**
 * The shape of kplane's nftables tables. Dispatch is by map lookups, not by per-service chains:
 *
 *   nat hooks → services-gN: frontend vmap @service-ips → policy chain (cluster | external |
 *   external-local | nodeport | nodeport-local: masquerade marks, eTP Local short-circuits)
 *   → frontend vmap @pick → pick-<protocol>-<n>-gN →
 *   `dnat to <frontend> . numgen random mod n map @endpoints-<protocol>-gN`.
 *
 * So a table holds a handful of chains however many services it serves (one pick chain per
 * protocol and distinct endpoint count), and an endpoint change is a few map elements. Services with ClientIP
 * affinity get small per-service chains (see contribution.ts). Everything carries a generation suffix
 * (-gN) except the base chains and affinity objects: a full sync builds generation N+1 beside N in
 * bounded transactions and swaps the base chains' jumps at the end, so no transaction ever leaves a
 * partial ruleset behind.
 */

export const TABLE = 'kplane';
export const TABLE_COMMENT = 'managed by kplane; removed by `kplane cleanup`';
export const FAMILIES: readonly NftFamily[] = ['ip', 'ip6'];

/** Sets and maps of one generation, by logical name. */
export const SET = {
  serviceIPs: 'service-ips',
  serviceNodePorts: 'service-nodeports',
  pick: 'pick',
  pickCluster: 'pick-cluster',
  nodePortPick: 'nodeport-pick',
  nodePortPickCluster: 'nodeport-pick-cluster',
  endpoints: 'endpoints',
  clusterEndpoints: 'cluster-endpoints',
  nodePortEndpoints: 'nodeport-endpoints',
  nodePortClusterEndpoints: 'nodeport-cluster-endpoints',
  noEndpointServices: 'no-endpoint-services',
  noEndpointNodePorts: 'no-endpoint-nodeports',
  clusterIPs: 'cluster-ips',
  firewall: 'firewall',
  firewallAllow: 'firewall-allow',
  hairpin: 'hairpin',
} as const;

/** The chains every generation has, by logical name (pick chains come and go with endpoint counts). */
export const CHAIN = {
  services: 'services',
  masquerading: 'masquerading',
  cluster: 'cluster',
  external: 'external',
  externalLocal: 'external-local',
  nodePort: 'nodeport',
  nodePortLocal: 'nodeport-local',
  serviceEndpointsCheck: 'service-endpoints-check',
  nodePortEndpointsCheck: 'nodeport-endpoints-check',
  clusterIPsCheck: 'cluster-ips-check',
  firewallCheck: 'firewall-check',
  reject: 'reject',
} as const;

/**
 * Endpoint maps exist once per transport protocol: their data type names the protocol's port
 * (`tcp dport`), which nft needs to read the map back (nft 1.0.6 fails on `th dport` there) and
 * which makes the DNAT rule check that protocol — right, since each map serves only it.
 */
const PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
export type TransportProtocol = (typeof PROTOCOLS)[number];

/** Which endpoint maps a pick chain draws from, and the frontend it keys on. */
const PICK_KINDS = {
  [SET.pick]: { endpoints: SET.endpoints, nodePort: false },
  [SET.pickCluster]: { endpoints: SET.clusterEndpoints, nodePort: false },
  [SET.nodePortPick]: { endpoints: SET.nodePortEndpoints, nodePort: true },
  [SET.nodePortPickCluster]: { endpoints: SET.nodePortClusterEndpoints, nodePort: true },
} as const;

export type PickKind = keyof typeof PICK_KINDS;

export function generationName(name: string, generation: number): string {
  return `${name}-g${generation}`;
}

/** `endpoints-tcp`: the endpoint map of one kind for one protocol. */
export function endpointMap(set: string, protocol: TransportProtocol): string {
  return `${set}-${protocol}`;
}

/** One pick chain: picks one of `count` endpoints of `protocol` from the map of its kind. */
export interface Pick {
  readonly kind: PickKind;
  readonly protocol: TransportProtocol;
  readonly count: number;
}

/** `pick-tcp-3`, which a generation suffixes (`pick-tcp-3-g7`). */
export function pickChainBase(pick: Pick): string {
  return `${pick.kind}-${pick.protocol}-${pick.count}`;
}

/** `pick:tcp:3` (a Contribution's pick) → the pick chain it stands for. */
export function parsePick(pick: string): Pick {
  const [kind, protocol, count] = pick.split(':') as [PickKind, TransportProtocol, string];
  return { kind, protocol, count: Number(count) };
}

export function pickChainName(pick: Pick, generation: number): string {
  return generationName(pickChainBase(pick), generation);
}

export function pickChainRule(family: NftFamily, pick: Pick, generation: number): string {
  const { endpoints, nodePort } = PICK_KINDS[pick.kind];
  const frontend = nodePort ? 'meta l4proto . th dport' : `${family} daddr . meta l4proto . th dport`;
  return `dnat ${family} to ${frontend} . numgen random mod ${pick.count} map @${generationName(endpointMap(endpoints, pick.protocol), generation)}`;
}

/** A generation suffix on a name, or null (base chains, affinity objects). */
export function generationOf(name: string): number | null {
  const match = /-g(\d+)$/.exec(name);
  return match ? Number(match[1]) : null;
}

export interface ChainLayout {
  readonly name: string;
  readonly rules: readonly string[];
}

export interface SetLayout {
  readonly kind: 'set' | 'map';
  readonly name: string;
  readonly spec: string;
}

export interface GenerationLayout {
  readonly sets: readonly SetLayout[];
  /** In an order where every chain is declared before a rule jumps to it. */
  readonly chains: readonly ChainLayout[];
}

/** The sets, maps and fixed chains of one generation of one family's table; `serviceCIDRs` of this family. */
export function generationLayout(family: NftFamily, config: ProxyConfig, generation: number, serviceCIDRs: readonly string[]): GenerationLayout {
  const g = (name: string): string => generationName(name, generation);
  const addr = `${family} daddr`;
  const frontend = `${addr} . meta l4proto . th dport`;
  const slot = 'numgen random mod 1';
  const mark = masqueradeMark(config, 8);
  const markMasquerade = `meta mark set meta mark | ${mark}`;
  const clusterCIDRs = ofFamily(family, config.clusterCIDRs);
  const podSource = clusterCIDRs.length > 0 ? `${family} saddr { ${clusterCIDRs.join(', ')} }` : null;
  const nodePortMatch = nodePortDestination(family, config);

  const vmap = (name: string, key: string): SetLayout => ({ kind: 'map', name: g(name), spec: `typeof ${key} : verdict;` });
  const sets: SetLayout[] = [
    vmap(SET.serviceIPs, frontend),
    vmap(SET.serviceNodePorts, 'meta l4proto . th dport'),
    vmap(SET.pick, frontend),
    vmap(SET.pickCluster, frontend),
    vmap(SET.nodePortPick, 'meta l4proto . th dport'),
    vmap(SET.nodePortPickCluster, 'meta l4proto . th dport'),
    ...Object.values(PICK_KINDS).flatMap(({ endpoints, nodePort }) => PROTOCOLS.map((protocol): SetLayout => ({
      kind: 'map',
      name: g(endpointMap(endpoints, protocol)),
      spec: `typeof ${nodePort ? 'meta l4proto . th dport' : frontend} . ${slot} : ${addr} . ${protocol} dport;`,
    }))),
    vmap(SET.noEndpointServices, frontend),
    vmap(SET.noEndpointNodePorts, 'meta l4proto . th dport'),
    { kind: 'set', name: g(SET.clusterIPs), spec: `typeof ${addr};` },
    { kind: 'set', name: g(SET.firewall), spec: `typeof ${frontend};` },
    { kind: 'set', name: g(SET.firewallAllow), spec: `typeof ${frontend} . ${family} saddr; flags interval;` },
    { kind: 'set', name: g(SET.hairpin), spec: `typeof ${family} saddr . ${family} daddr;` },
  ];

  const pick = `${frontend} vmap @${g(SET.pick)}`;
  const pickCluster = `${frontend} vmap @${g(SET.pickCluster)}`;
  const nodePortPick = `meta l4proto . th dport vmap @${g(SET.nodePortPick)}`;
  const nodePortPickCluster = `meta l4proto . th dport vmap @${g(SET.nodePortPickCluster)}`;
  // eTP Local: pods and the node itself still reach every endpoint (kube-proxy's short-circuit);
  // outside clients only this node's, or nothing (drop: the load balancer's health check moves on).
  const shortCircuit = (target: string): string[] => [
    ...(podSource ? [`${podSource} ${target}`] : []),
    `fib saddr type local ${markMasquerade}`,
    `fib saddr type local ${target}`,
  ];
  const clusterMasquerade = config.masqueradeAll ? [markMasquerade] : podSource ? [`${family} saddr != { ${clusterCIDRs.join(', ')} } ${markMasquerade}`] : [];

  const chains: ChainLayout[] = [
    { name: g(CHAIN.reject), rules: ['meta l4proto tcp reject with tcp reset', 'reject'] },
    { name: g(CHAIN.cluster), rules: [...clusterMasquerade, pick] },
    { name: g(CHAIN.external), rules: [markMasquerade, pick] },
    { name: g(CHAIN.externalLocal), rules: [...shortCircuit(pickCluster), pick, 'drop'] },
    { name: g(CHAIN.nodePort), rules: [markMasquerade, nodePortPick] },
    { name: g(CHAIN.nodePortLocal), rules: [...shortCircuit(nodePortPickCluster), nodePortPick, 'drop'] },
    {
      name: g(CHAIN.services),
      rules: [`${frontend} vmap @${g(SET.serviceIPs)}`, ...(nodePortMatch ? [`${nodePortMatch} meta l4proto . th dport vmap @${g(SET.serviceNodePorts)}`] : [])],
    },
    { name: g(CHAIN.serviceEndpointsCheck), rules: [`${frontend} vmap @${g(SET.noEndpointServices)}`] },
    { name: g(CHAIN.nodePortEndpointsCheck), rules: nodePortMatch ? [`${nodePortMatch} meta l4proto . th dport vmap @${g(SET.noEndpointNodePorts)}`] : [] },
    { name: g(CHAIN.clusterIPsCheck), rules: clusterIPsCheckRules(family, generation, serviceCIDRs) },
    { name: g(CHAIN.firewallCheck), rules: [`${frontend} @${g(SET.firewall)} ${frontend} . ${family} saddr != @${g(SET.firewallAllow)} drop`] },
    {
      name: g(CHAIN.masquerading),
      rules: [
        `ct status dnat ${family} saddr . ${family} daddr @${g(SET.hairpin)} masquerade fully-random`,
        `meta mark & ${mark} == 0 return`,
        `meta mark set meta mark ^ ${mark}`,
        'masquerade fully-random',
      ],
    },
  ];
  return { sets, chains };
}

/**
 * kube-proxy's cluster-ips-check, run on new connections after DNAT: a destination still a cluster
 * IP was sent to a port no Service serves there (rejected at once); one still inside a service
 * CIDR is an address nothing has been allocated (dropped, like traffic to a hole in the network).
 */
export function clusterIPsCheckRules(family: NftFamily, generation: number, serviceCIDRs: readonly string[]): string[] {
  const addr = `${family} daddr`;
  const reject = `${addr} @${generationName(SET.clusterIPs, generation)} goto ${generationName(CHAIN.reject, generation)}`;
  return serviceCIDRs.length > 0 ? [reject, `${addr} { ${serviceCIDRs.join(', ')} } drop`] : [reject];
}

/** The CIDRs (or addresses) of one family's table. */
export function ofFamily(family: NftFamily, cidrs: readonly string[]): string[] {
  return cidrs.filter((cidr) => ipFamily(cidr) === (family === 'ip' ? 4 : 6));
}

/**
 * The hooks kplane's table attaches to and what each jumps to (kube-proxy's nftables priorities:
 * the symbolic `dstnat` is only allowed on prerouting, so other hooks say -100 ± 10).
 */
export function baseChains(generation: number): readonly { name: string; spec: BaseChainSpec; rules: readonly string[] }[] {
  const g = (name: string): string => generationName(name, generation);
  const check = (chain: string): string => `ct state new jump ${g(chain)}`;
  return [
    { name: 'filter-prerouting', spec: { type: 'filter', hook: 'prerouting', priority: 'dstnat - 10' }, rules: [check(CHAIN.firewallCheck)] },
    { name: 'filter-input', spec: { type: 'filter', hook: 'input', priority: '-110' }, rules: [check(CHAIN.nodePortEndpointsCheck), check(CHAIN.serviceEndpointsCheck)] },
    { name: 'filter-forward', spec: { type: 'filter', hook: 'forward', priority: '-110' }, rules: [check(CHAIN.serviceEndpointsCheck), check(CHAIN.clusterIPsCheck)] },
    { name: 'filter-output', spec: { type: 'filter', hook: 'output', priority: '-110' }, rules: [check(CHAIN.serviceEndpointsCheck), check(CHAIN.firewallCheck)] },
    { name: 'filter-output-post-dnat', spec: { type: 'filter', hook: 'output', priority: '-90' }, rules: [check(CHAIN.clusterIPsCheck)] },
    { name: 'nat-prerouting', spec: { type: 'nat', hook: 'prerouting', priority: 'dstnat' }, rules: [`jump ${g(CHAIN.services)}`] },
    { name: 'nat-output', spec: { type: 'nat', hook: 'output', priority: '-100' }, rules: [`jump ${g(CHAIN.services)}`] },
    { name: 'nat-postrouting', spec: { type: 'nat', hook: 'postrouting', priority: 'srcnat' }, rules: [`jump ${g(CHAIN.masquerading)}`] },
  ];
}

/** Which destinations answer NodePorts: every local address but loopback, or the node IPs in --nodeport-addresses. */
function nodePortDestination(family: NftFamily, config: ProxyConfig): string | null {
  if (config.nodePortAddresses.length === 0) return `fib daddr type local ${family} daddr != ${family === 'ip' ? '127.0.0.0/8' : '::1'}`;
  const wanted = family === 'ip' ? 4 : 6;
  const addresses = config.nodeIPs.filter((ip) => ipFamily(ip) === wanted && config.nodePortAddresses.some((cidr) => cidrContains(cidr, ip)));
  return addresses.length > 0 ? `${family} daddr { ${addresses.join(', ')} }` : null;
}
