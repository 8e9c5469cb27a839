import { ipFamily } from '../model/ip.js';
import type { ServicePort } from '../model/service-port.js';

/** The Service features a backend can declare. Core refuses a Service that needs one its backend lacks. */
export const FEATURES = [
  'TCP', 'UDP', 'SCTP', 'IPv4', 'IPv6',
  'NodePort', 'ExternalIP', 'LoadBalancerIP', 'LoadBalancerSourceRanges',
  'SessionAffinity', 'ExternalTrafficPolicyLocal', 'InternalTrafficPolicyLocal',
] as const;

export type Feature = (typeof FEATURES)[number];

/** The features a service port needs from its backend. */
export function requiredFeatures(port: ServicePort): Set<Feature> {
  const needed = new Set<Feature>([port.protocol]);
  const addresses = [...port.clusterIPs, ...port.externalIPs, ...port.loadBalancerIPs];
  for (const address of addresses) needed.add(ipFamily(address) === 4 ? 'IPv4' : 'IPv6');
  if (port.nodePort !== null) needed.add('NodePort');
  if (port.externalIPs.length > 0) needed.add('ExternalIP');
  if (port.loadBalancerIPs.length > 0) needed.add('LoadBalancerIP');
  if (port.loadBalancerIPs.length > 0 && port.loadBalancerSourceRanges.length > 0) needed.add('LoadBalancerSourceRanges');
  if (port.affinityTimeoutSeconds !== null) needed.add('SessionAffinity');
  const external = port.nodePort !== null || port.externalIPs.length > 0 || port.loadBalancerIPs.length > 0;
  if (port.externalTrafficLocal && external) needed.add('ExternalTrafficPolicyLocal');
  if (port.internalTrafficLocal) needed.add('InternalTrafficPolicyLocal');
  return needed;
}

export function missingFeatures(port: ServicePort, supported: ReadonlySet<Feature>): Feature[] {
  return [...requiredFeatures(port)].filter((feature) => !supported.has(feature));
}
