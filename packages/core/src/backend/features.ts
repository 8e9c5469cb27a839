import { ipFamily } from '../model/ip.js';
import type { ServicePort } from '../model/service-port.js';

/** The Service features a backend can declare. Core programs only what its backend declares, port by port. */
export const FEATURES = [
  'TCP', 'UDP', 'SCTP', 'IPv4', 'IPv6',
  'NodePort', 'ExternalIP', 'LoadBalancerIP', 'LoadBalancerSourceRanges',
  'SessionAffinity', 'ExternalTrafficPolicyLocal', 'InternalTrafficPolicyLocal',
] as const;

export type Feature = (typeof FEATURES)[number];

/** What a port loses on a backend that lacks a feature: the port, or only some of its frontends. */
export interface FeatureLoss {
  /** 'port': the port is not programmed at all; 'frontend': the port is, without the frontends named. */
  readonly scope: 'port' | 'frontend';
  readonly feature: Feature;
}

/**
 * The part of a port its backend can program. A missing semantic (protocol, affinity, an internal
 * traffic policy, the family of every cluster IP) would be programmed wrongly, so the port goes; a
 * missing kind of frontend only takes those frontends away, and the rest of the port is programmed.
 * Addresses of a family the backend lacks are left out one by one.
 */
export function fitToFeatures(port: ServicePort, supported: ReadonlySet<Feature>): { port: ServicePort | null; losses: FeatureLoss[] } {
  const losses: FeatureLoss[] = [];
  const lacks = (feature: Feature, scope: FeatureLoss['scope']): boolean => {
    if (supported.has(feature)) return false;
    losses.push({ scope, feature });
    return true;
  };
  lacks(port.protocol, 'port');
  if (port.affinityTimeoutSeconds !== null) lacks('SessionAffinity', 'port');
  if (port.internalTrafficLocal) lacks('InternalTrafficPolicyLocal', 'port');
  const clusterIPs = port.clusterIPs.filter((ip) => !lacks(familyFeature(ip), 'frontend'));
  if (clusterIPs.length === 0 && port.clusterIPs.length > 0) losses.push({ scope: 'port', feature: familyFeature(port.clusterIPs[0]!) });
  if (losses.some((loss) => loss.scope === 'port')) return { port: null, losses: losses.filter((loss) => loss.scope === 'port') };

  let nodePort = port.nodePort !== null && !lacks('NodePort', 'frontend') ? port.nodePort : null;
  let externalIPs = port.externalIPs.length > 0 && lacks('ExternalIP', 'frontend') ? NONE : port.externalIPs.filter((ip) => !lacks(familyFeature(ip), 'frontend'));
  let loadBalancerIPs = port.loadBalancerIPs.length > 0 && lacks('LoadBalancerIP', 'frontend') ? NONE : port.loadBalancerIPs.filter((ip) => !lacks(familyFeature(ip), 'frontend'));
  // Load-balancer IPs that cannot be restricted to their source ranges are not opened to everyone.
  if (loadBalancerIPs.length > 0 && port.loadBalancerSourceRanges.length > 0 && lacks('LoadBalancerSourceRanges', 'frontend')) loadBalancerIPs = NONE;
  // externalTrafficPolicy governs only the external frontends: without it they go, the cluster IPs stay.
  const external = nodePort !== null || externalIPs.length > 0 || loadBalancerIPs.length > 0;
  if (port.externalTrafficLocal && external && lacks('ExternalTrafficPolicyLocal', 'frontend')) {
    nodePort = null;
    externalIPs = NONE;
    loadBalancerIPs = NONE;
  }
  if (losses.length === 0) return { port, losses };
  return { port: { ...port, clusterIPs, nodePort, externalIPs, loadBalancerIPs }, losses: unique(losses) };
}

function familyFeature(address: string): Feature {
  return ipFamily(address) === 4 ? 'IPv4' : 'IPv6';
}

function unique(losses: readonly FeatureLoss[]): FeatureLoss[] {
  return [...new Map(losses.map((loss) => [`${loss.scope} ${loss.feature}`, loss])).values()];
}

const NONE: readonly string[] = Object.freeze([]);
