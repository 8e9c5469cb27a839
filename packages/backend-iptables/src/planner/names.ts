import { endpointAddress, kernelId, type Endpoint, type Protocol, type ServicePort } from '@kplane/core';

/**
 * Chain names. Every one starts with KPLANE- (what cleanup looks for) and is derived: fixed names,
 * the service port's id (a hash), a hash of port and endpoint, or a tree node's number. At most 28
 * characters, the kernel's limit.
 */
export const CHAIN = {
  /** Hooked from nat PREROUTING and OUTPUT: service IPs, then node ports. */
  services: 'KPLANE-SERVICES',
  /** Root of the tree of service IPs. */
  addresses: 'KPLANE-IPS',
  nodePorts: 'KPLANE-NODEPORTS',
  /** Decides whether traffic to a cluster IP is masqueraded (--masquerade-all, --cluster-cidr). */
  clusterMasquerade: 'KPLANE-CLUSTER-MASQ',
  /** Marks a new connection for the filter table to reject (nothing serves it) or drop (not for this client or node). */
  reject: 'KPLANE-REJECT',
  drop: 'KPLANE-DROP',
  /** Hooked from nat POSTROUTING. */
  postrouting: 'KPLANE-POSTROUTING',
  /** Hooked from filter INPUT, FORWARD and OUTPUT: rejects and drops what the nat table marked. */
  filter: 'KPLANE-FILTER',
} as const;

/** Root of the tree of node ports of one protocol. */
export function nodePortRoot(protocol: Protocol): string {
  return `KPLANE-NP-${protocol}`;
}

/** Picks one of the port's endpoints for cluster-IP traffic. */
export function serviceChain(port: ServicePort): string {
  return `KPLANE-SVC-${port.id}`;
}

/** Picks one of the endpoints for external traffic, when they differ from the cluster-IP ones. */
export function externalPickChain(port: ServicePort): string {
  return `KPLANE-SVX-${port.id}`;
}

/** Entry for node ports, external IPs and load-balancer IPs: masquerade and the external traffic policy. */
export function externalChain(port: ServicePort): string {
  return `KPLANE-EXT-${port.id}`;
}

/** loadBalancerSourceRanges of the load-balancer IPs. */
export function firewallChain(port: ServicePort): string {
  return `KPLANE-FW-${port.id}`;
}

/** DNAT to one endpoint (also the name of its session-affinity list). */
export function endpointChain(port: ServicePort, endpoint: Pick<Endpoint, 'ip' | 'port'>): string {
  return `KPLANE-SEP-${kernelId(`${port.key} ${endpointAddress(endpoint)}`)}`;
}
