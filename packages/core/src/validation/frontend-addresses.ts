import { cidrContains } from '../model/ip.js';

/**
 * Each frontend address of a Service once. The API server lets an address repeat in externalIPs or
 * in the ingress, or stand in both (MetalLB setups do); programmed twice it would be one frontend
 * claimed twice. An address in both stays a load-balancer IP, where loadBalancerSourceRanges apply,
 * so repeating it as an external IP never opens it to everyone.
 */
export function distinctFrontends(externalIPs: readonly string[], loadBalancerIPs: readonly string[]): { externalIPs: readonly string[]; loadBalancerIPs: readonly string[] } {
  const balanced = new Set(loadBalancerIPs);
  return {
    externalIPs: distinct(externalIPs.filter((ip) => !balanced.has(ip))),
    loadBalancerIPs: distinct(loadBalancerIPs),
  };
}

/**
 * Canonical source ranges without those another range holds: the same addresses are allowed, and
 * an interval set (nft) refuses overlapping elements. Two CIDRs overlap only when one holds the other.
 */
export function outermostRanges(ranges: readonly string[]): readonly string[] {
  const unique = distinct(ranges);
  return unique.filter((cidr) => !unique.some((other) => other !== cidr && holds(other, cidr)));
}

function holds(outer: string, inner: string): boolean {
  const [innerNetwork, innerBits] = inner.split('/');
  return Number(outer.split('/')[1]) <= Number(innerBits) && cidrContains(outer, innerNetwork!);
}

function distinct(items: readonly string[]): readonly string[] {
  return items.length < 2 ? items : [...new Set(items)];
}
