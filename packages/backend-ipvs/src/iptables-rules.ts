import { endpointAddress, hostCIDR, ipFamily, masqueradeMark, type IPFamily, type ProxyConfig } from '@kplane/core';
import { CHAINS, JUMP_COMMENT } from './names.js';
import { setName, type SetKind } from './sets.js';

export type Table = 'nat' | 'filter';

/** A jump from a built-in chain into kplane's chains. */
export interface Jump {
  readonly table: Table;
  readonly chain: string;
  readonly target: string;
}

export const JUMPS: readonly Jump[] = [
  { table: 'nat', chain: 'PREROUTING', target: CHAINS.services },
  { table: 'nat', chain: 'OUTPUT', target: CHAINS.services },
  { table: 'nat', chain: 'POSTROUTING', target: CHAINS.postrouting },
  { table: 'filter', chain: 'INPUT', target: CHAINS.filter },
  { table: 'filter', chain: 'FORWARD', target: CHAINS.forward },
  { table: 'filter', chain: 'FORWARD', target: CHAINS.serviceCIDRs },
  { table: 'filter', chain: 'OUTPUT', target: CHAINS.serviceCIDRs },
];

/** One of kplane's chains and its rules, written exactly as `iptables -S` prints them, so listings compare equal. */
export interface Chain {
  readonly family: IPFamily;
  readonly table: Table;
  readonly name: string;
  readonly rules: readonly string[];
}

/** Key of a chain in the kernel state: `4 KPLANE-IPVS-SERVICES`. */
export function chainKey(chain: Pick<Chain, 'family' | 'name'>): string {
  return `${chain.family} ${chain.name}`;
}

/** The rule of a jump, as `iptables -S` prints it (after `-A CHAIN`). */
export function jumpRule(jump: Jump): string {
  return `-m comment --comment ${JUMP_COMMENT} -j ${jump.target}`;
}

export function iptablesTool(family: IPFamily): string {
  return family === 4 ? 'iptables' : 'ip6tables';
}

type RuleConfig = Pick<ProxyConfig, 'clusterCIDRs' | 'masqueradeAll' | 'masqueradeBit'>;

/**
 * kplane's chains for one family (pure). IPVS balances; these rules only add what it cannot:
 * masquerade (cluster IPs reached from outside the cluster CIDRs, external IPs, load balancers
 * and node ports unless their traffic policy is Local, a pod reaching itself), pods reaching an
 * externalTrafficPolicy Local frontend through its cluster IP (`local`: the shortcut rules),
 * loadBalancerSourceRanges, rejecting new connections to service addresses on ports no service
 * has, and accepting forwarded replies from endpoints (IPVS's NAT does not mark conntrack entries
 * as DNAT, so core's FORWARD accept rule does not see them); `serviceCIDRs` are the cluster's.
 */
export function kplaneChains(family: IPFamily, config: RuleConfig, local: readonly string[], serviceCIDRs: readonly string[]): Chain[] {
  const set = (kind: SetKind): string => setName(kind, family);
  const mark = masqueradeMark(config);
  const cidrs = config.clusterCIDRs.filter((cidr) => ipFamily(cidr) === family);
  const rule = (chain: string, text: string): string => `-A ${chain} ${text}`;
  const clusterIP = config.masqueradeAll ? [rule(CHAINS.clusterIP, `-j ${CHAINS.markMasquerade}`)]
    : cidrs.length > 0 ? [...cidrs.map((cidr) => rule(CHAINS.clusterIP, `-s ${cidr} -j RETURN`)), rule(CHAINS.clusterIP, `-j ${CHAINS.markMasquerade}`)]
      : [];
  const chain = (table: Table, name: string, rules: readonly string[]): Chain => ({ family, table, name, rules });
  return [
    chain('nat', CHAINS.services, [
      rule(CHAINS.services, `-j ${CHAINS.local}`),
      rule(CHAINS.services, `-m set --match-set ${set('cluster-ip')} dst,dst -j ${CHAINS.clusterIP}`),
      rule(CHAINS.services, `-m set --match-set ${set('external')} dst,dst -j ${CHAINS.markMasquerade}`),
      rule(CHAINS.services, `-m set --match-set ${set('node-port')} dst,dst -j ${CHAINS.markMasquerade}`),
    ]),
    localChain(family, local),
    chain('nat', CHAINS.clusterIP, clusterIP),
    chain('nat', CHAINS.markMasquerade, [rule(CHAINS.markMasquerade, `-j MARK --set-xmark ${mark}/${mark}`)]),
    chain('nat', CHAINS.postrouting, [
      rule(CHAINS.postrouting, `-m set --match-set ${set('hairpin')} dst,dst,src -j MASQUERADE`),
      rule(CHAINS.postrouting, `-m mark ! --mark ${mark}/${mark} -j RETURN`),
      // Clears the bit, so a packet that goes through the host again is not masqueraded twice.
      rule(CHAINS.postrouting, `-j MARK --set-xmark ${mark}/0x0`),
      rule(CHAINS.postrouting, '-j MASQUERADE --random-fully'),
    ]),
    chain('filter', CHAINS.filter, [
      rule(CHAINS.filter, `-m set --match-set ${set('lb-fw')} dst,dst -j ${CHAINS.firewall}`),
      rule(CHAINS.filter, `-m set --match-set ${set('cluster-ip')} dst,dst -j RETURN`),
      rule(CHAINS.filter, `-m set --match-set ${set('external')} dst,dst -j RETURN`),
      rule(CHAINS.filter, `-m set --match-set ${set('external-local')} dst,dst -j RETURN`),
      rule(CHAINS.filter, `-m conntrack --ctstate NEW -m set --match-set ${set('vip')} dst -j REJECT --reject-with ${family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`),
    ]),
    chain('filter', CHAINS.firewall, [
      rule(CHAINS.firewall, `-m set --match-set ${set('lb-src')} dst,dst,src -j RETURN`),
      rule(CHAINS.firewall, '-j DROP'),
    ]),
    // The hairpin set lists every endpoint as endpoint,proto:port,endpoint: src,src,src matches a reply from one.
    chain('filter', CHAINS.forward, [
      rule(CHAINS.forward, `-m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY -m set --match-set ${set('hairpin')} src,src,src -j ACCEPT`),
    ]),
    serviceCIDRChain(family, serviceCIDRs),
  ];
}

/**
 * kube-proxy's nftables drop of unallocated cluster IPs. Every service address is on the dummy
 * interface, so IPVS takes its traffic in INPUT (where the filter chain rejects unserved ports);
 * what is forwarded, or leaves the node, to a service CIDR is for an address no service has.
 */
export function serviceCIDRChain(family: IPFamily, serviceCIDRs: readonly string[]): Chain {
  const rules = serviceCIDRs.filter((cidr) => ipFamily(cidr) === family)
    .map((cidr) => `-A ${CHAINS.serviceCIDRs} -d ${cidr} -m set ! --match-set ${setName('vip', family)} dst -m conntrack --ctstate NEW -j DROP`);
  return { family, table: 'filter', name: CHAINS.serviceCIDRs, rules };
}

/** The shortcut chain of one family: its rules come from the service ports (`localShortcuts`), sorted. */
export function localChain(family: IPFamily, rules: readonly string[]): Chain {
  return { family, table: 'nat', name: CHAINS.local, rules: [...rules].sort() };
}

/**
 * Shortcut rules of one externalTrafficPolicy Local frontend: connections from the cluster CIDRs
 * are sent to the service's cluster IP (all endpoints, not only this node's), like kube-proxy's
 * iptables mode does for pods; IPVS has one set of real servers per virtual service.
 */
export function localShortcuts(cidrs: readonly string[], protocol: string, frontend: string, port: number, clusterIP: string, clusterPort: number): string[] {
  const family = ipFamily(frontend);
  const proto = protocol.toLowerCase();
  return cidrs.filter((cidr) => ipFamily(cidr) === family)
    .map((cidr) => `-A ${CHAINS.local} -s ${cidr} -d ${hostCIDR(frontend)} -p ${proto} -m ${proto} --dport ${port} -j DNAT --to-destination ${endpointAddress({ ip: clusterIP, port: clusterPort })}`);
}

/** `iptables-restore --noflush` input: declaring a chain flushes it, then its rules; missing jumps inserted first in their chain. */
export function iptablesRestore(chains: readonly Chain[], missingJumps: readonly Jump[]): string {
  const lines: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const rewritten = chains.filter((chain) => chain.table === table);
    const jumps = missingJumps.filter((jump) => jump.table === table);
    if (rewritten.length + jumps.length === 0) continue;
    lines.push(`*${table}`, ...rewritten.map((chain) => `:${chain.name} - [0:0]`), ...rewritten.flatMap((chain) => chain.rules));
    lines.push(...jumps.map((jump) => `-I ${jump.chain} ${jumpRule(jump)}`), 'COMMIT');
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
