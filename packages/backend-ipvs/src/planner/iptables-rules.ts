import { endpointAddress, hostCIDR, ipFamily, masqueradeMark, type IPFamily, type IptablesRules, type IptablesTable, type ProxyConfig } from '@kplane/core';
import { CHAINS, JUMP_COMMENT } from './names.js';
import { setName, type SetKind } from './sets.js';

/** A jump from a built-in chain into kplane's chains. */
export interface Jump {
  readonly table: IptablesTable;
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

/** One of kplane's chains and its rules, written exactly as `iptables -S` prints them (after `-A <chain> `), so listings compare equal. */
export interface Chain {
  readonly family: IPFamily;
  readonly table: IptablesTable;
  readonly name: string;
  readonly rules: IptablesRules;
}

/** Key of a chain in the kernel state: `4 KPLANE-IPVS-SERVICES`. */
export function chainKey(chain: Pick<Chain, 'family' | 'name'>): string {
  return `${chain.family} ${chain.name}`;
}

/** The rule of a jump, as `iptables -S` prints it (after `-A CHAIN`). */
export function jumpRule(jump: Jump): string {
  return `-m comment --comment ${JUMP_COMMENT} -j ${jump.target}`;
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
  const clusterIP = config.masqueradeAll ? [`-j ${CHAINS.markMasquerade}`]
    : cidrs.length > 0 ? [...cidrs.map((cidr) => `-s ${cidr} -j RETURN`), `-j ${CHAINS.markMasquerade}`]
      : [];
  const chain = (table: IptablesTable, name: string, rules: IptablesRules): Chain => ({ family, table, name, rules });
  return [
    chain('nat', CHAINS.services, [
      `-j ${CHAINS.local}`,
      `-m set --match-set ${set('cluster-ip')} dst,dst -j ${CHAINS.clusterIP}`,
      `-m set --match-set ${set('external')} dst,dst -j ${CHAINS.markMasquerade}`,
      `-m set --match-set ${set('node-port')} dst,dst -j ${CHAINS.markMasquerade}`,
    ]),
    localChain(family, local),
    chain('nat', CHAINS.clusterIP, clusterIP),
    chain('nat', CHAINS.markMasquerade, [`-j MARK --set-xmark ${mark}/${mark}`]),
    chain('nat', CHAINS.postrouting, [
      `-m set --match-set ${set('hairpin')} dst,dst,src -j MASQUERADE`,
      `-m mark ! --mark ${mark}/${mark} -j RETURN`,
      // Clears the bit, so a packet that goes through the host again is not masqueraded twice.
      `-j MARK --set-xmark ${mark}/0x0`,
      '-j MASQUERADE --random-fully',
    ]),
    chain('filter', CHAINS.filter, [
      `-m set --match-set ${set('lb-fw')} dst,dst -j ${CHAINS.firewall}`,
      `-m set --match-set ${set('cluster-ip')} dst,dst -j RETURN`,
      `-m set --match-set ${set('external')} dst,dst -j RETURN`,
      `-m set --match-set ${set('external-local')} dst,dst -j RETURN`,
      `-m conntrack --ctstate NEW -m set --match-set ${set('vip')} dst -j REJECT --reject-with ${family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'}`,
    ]),
    chain('filter', CHAINS.firewall, [
      `-m set --match-set ${set('lb-src')} dst,dst,src -j RETURN`,
      '-j DROP',
    ]),
    // The hairpin set lists every endpoint as endpoint,proto:port,endpoint: src,src,src matches a reply from one.
    chain('filter', CHAINS.forward, [
      `-m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY -m set --match-set ${set('hairpin')} src,src,src -j ACCEPT`,
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
    .map((cidr) => `-d ${cidr} -m set ! --match-set ${setName('vip', family)} dst -m conntrack --ctstate NEW -j DROP`);
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
    .map((cidr) => `-s ${cidr} -d ${hostCIDR(frontend)} -p ${proto} -m ${proto} --dport ${port} -j DNAT --to-destination ${endpointAddress({ ip: clusterIP, port: clusterPort })}`);
}
