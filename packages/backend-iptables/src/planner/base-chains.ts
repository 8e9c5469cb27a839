import { hostCIDR, ipFamily, type IptablesRules, type IptablesTable } from '@kplane/core';
import { CHAIN, nodePortRoot } from './names.js';
import { PROTOCOLS, type FamilySettings } from './settings.js';

/** A jump from a built-in chain into kplane's, marked by its comment; written once, idempotently. */
export interface HookRule {
  readonly table: IptablesTable;
  readonly chain: string;
  readonly rule: string;
  readonly target: string;
}

export const HOOKS: readonly HookRule[] = [
  ...['PREROUTING', 'OUTPUT'].map((chain) => hook('nat', chain, 'kplane service portals', CHAIN.services)),
  hook('nat', 'POSTROUTING', 'kplane masquerade', CHAIN.postrouting),
  ...['INPUT', 'FORWARD', 'OUTPUT'].map((chain) => hook('filter', chain, 'kplane rejected and dropped service traffic', CHAIN.filter)),
];

function hook(table: IptablesTable, chain: string, comment: string, target: string): HookRule {
  return { table, chain, rule: `-m comment --comment "${comment}" -j ${target}`, target };
}

/**
 * The nat table's entry: the tree of service IPs, then node ports. What is still inside a service
 * CIDR after both is an address no Service has (every cluster IP ends in its leaf: DNAT or reject),
 * dropped like kube-proxy's nftables mode does; `serviceCIDRs` are the cluster's, of every family.
 */
export function servicesChain(settings: FamilySettings, serviceCIDRs: readonly string[]): IptablesRules {
  const loopback = settings.family === 4 ? '127.0.0.0/8' : '::1/128';
  const nodePortEntry = settings.nodePortAddresses === null
    ? [`! -d ${loopback} -m addrtype --dst-type LOCAL -j ${CHAIN.nodePorts}`]
    : settings.nodePortAddresses.map((ip) => `-d ${hostCIDR(ip)} -j ${CHAIN.nodePorts}`);
  const unallocated = serviceCIDRs.filter((cidr) => ipFamily(cidr) === settings.family).map((cidr) => `-d ${cidr} -j ${CHAIN.drop}`);
  return [`-j ${CHAIN.addresses}`, ...nodePortEntry, ...unallocated];
}

/** kplane's fixed chains of one family (the tree roots are written by the trees). */
export function baseChains(settings: FamilySettings, serviceCIDRs: readonly string[]): Map<IptablesTable, Map<string, IptablesRules>> {
  const { masqueradeMark: masquerade, dropMark: drop, rejectMark: reject } = settings;
  // Unused (and empty) when cluster-IP traffic is never masqueraded: no --masquerade-all, no --cluster-cidr.
  const clusterMasquerade = settings.masqueradeAll || settings.clusterCIDRs.length > 0
    ? [...(settings.masqueradeAll ? [] : settings.clusterCIDRs.map((cidr) => `-s ${cidr} -j RETURN`)), `-j MARK --or-mark ${masquerade}`]
    : [];
  const nat = new Map<string, IptablesRules>([
    [CHAIN.services, servicesChain(settings, serviceCIDRs)],
    [CHAIN.nodePorts, PROTOCOLS.map((protocol) => `-p ${protocol.toLowerCase()} -j ${nodePortRoot(protocol)}`)],
    [CHAIN.clusterMasquerade, clusterMasquerade],
    // ACCEPT ends the nat table's walk, so nothing after us NATs a connection the filter table will refuse.
    [CHAIN.reject, [`-j MARK --or-mark ${reject}`, '-j ACCEPT']],
    [CHAIN.drop, [`-j MARK --or-mark ${drop}`, '-j ACCEPT']],
    [CHAIN.postrouting, [`-m mark ! --mark ${masquerade}/${masquerade} -j RETURN`, `-j MARK --xor-mark ${masquerade}`, '-j MASQUERADE --random-fully']],
  ]);
  // The nat table cannot reject or drop: it marks the first packet of such a connection, the filter table refuses it.
  const filter = new Map<string, IptablesRules>([
    [CHAIN.filter, [
      `-m mark --mark ${drop}/${drop} -j DROP`,
      `-p tcp -m mark --mark ${reject}/${reject} -j REJECT --reject-with tcp-reset`,
      `-m mark --mark ${reject}/${reject} -j REJECT`,
    ]],
  ]);
  return new Map([['nat', nat], ['filter', filter]]);
}
