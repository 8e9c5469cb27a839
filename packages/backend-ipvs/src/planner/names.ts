/**
 * Every name the ipvs backend writes to the kernel. They are fixed (never taken from API objects) and
 * carry an ipvs-specific prefix, so that `cleanup` finds exactly this backend's objects and never
 * another backend's `KPLANE-` chains or `kplane-` sets.
 */

/** The dummy interface that holds the service addresses, so the node accepts their traffic for IPVS. */
export const DUMMY_INTERFACE = 'kplane-ipvs0';

/** Prefix of every ipset this backend creates. */
export const SET_PREFIX = 'kplane-ipvs';

/** Prefix of every iptables chain this backend creates. */
export const CHAIN_PREFIX = 'KPLANE-IPVS-';

export const CHAINS = {
  /** nat: marks service traffic that must be masqueraded (jumped to from PREROUTING and OUTPUT). */
  services: 'KPLANE-IPVS-SERVICES',
  /** nat: pods reaching an externalTrafficPolicy Local frontend go to the cluster IP instead. */
  local: 'KPLANE-IPVS-LOCAL',
  /** nat: cluster-IP traffic from outside the cluster CIDRs is masqueraded. */
  clusterIP: 'KPLANE-IPVS-CLUSTER-IP',
  markMasquerade: 'KPLANE-IPVS-MARK-MASQ',
  /** nat: masquerades marked and hairpin traffic (jumped to from POSTROUTING). */
  postrouting: 'KPLANE-IPVS-POSTROUTING',
  /** filter: rejects new connections to service addresses on ports no service has; loadBalancerSourceRanges (jumped to from INPUT). */
  filter: 'KPLANE-IPVS-FILTER',
  /** filter: drops load-balancer traffic from outside the source ranges. */
  firewall: 'KPLANE-IPVS-FIREWALL',
  /** filter: accepts forwarded replies from endpoints (jumped to from FORWARD). */
  forward: 'KPLANE-IPVS-FORWARD',
  /** filter: drops new connections to service-CIDR addresses no service has (jumped to from FORWARD and OUTPUT). */
  serviceCIDRs: 'KPLANE-IPVS-SVC-CIDRS',
} as const;

/** Comment on the jumps kplane adds to the built-in chains, so cleanup deletes exactly those. */
export const JUMP_COMMENT = 'kplane-ipvs';
