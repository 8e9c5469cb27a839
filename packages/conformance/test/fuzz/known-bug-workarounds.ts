import { canonicalCIDR, canonicalIP, cidrContains, type SourceEvent } from '@kplane/core';

/**
 * What the fuzz takes out of generated objects for a defect already found, so that it can find
 * others: each names the known-bugs test that proves the defect. Delete one with its fix.
 */

/**
 * A Service listing one frontend address twice (twice in externalIPs or in its ingress, or in
 * both) fails the iptables backend's partial syncs: known-bugs.test.ts. Until that is fixed, the
 * iptables fuzz gets such Services with the repeats taken out.
 */
export function withoutRepeatedFrontends(event: SourceEvent): SourceEvent {
  if (event.action !== 'upsert' || event.kind !== 'Service') return event;
  const object = event.object as { spec?: { externalIPs?: unknown }; status?: { loadBalancer?: { ingress?: unknown } } } | null;
  const seen = new Set<string>();
  const fresh = (ip: unknown) => {
    const key = typeof ip === 'string' ? canonicalIP(ip) ?? ip : ip;
    if (typeof key !== 'string') return true;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const copy = structuredClone(object);
  if (Array.isArray(copy?.spec?.externalIPs)) copy.spec.externalIPs = copy.spec.externalIPs.filter(fresh);
  const ingress = copy?.status?.loadBalancer?.ingress;
  if (Array.isArray(ingress)) copy!.status!.loadBalancer!.ingress = ingress.filter((entry: { ip?: unknown } | null) => fresh(entry?.ip));
  return { ...event, object: copy };
}

/**
 * nft refuses a Service's overlapping loadBalancerSourceRanges (known-bugs.kernel.test.ts). Until
 * that is fixed, the nft sample gets such Services with the overlapping ranges taken out.
 */
export function withoutOverlappingRanges(event: SourceEvent): SourceEvent {
  if (event.action !== 'upsert' || event.kind !== 'Service') return event;
  const object = structuredClone(event.object) as { spec: { loadBalancerSourceRanges?: string[] | null } };
  const kept: string[] = [];
  // Two CIDRs overlap when one holds the other's network address.
  const overlap = (a: string, b: string) => canonicalCIDR(a) !== null && (cidrContains(a, b.split('/')[0]!) || cidrContains(b, a.split('/')[0]!));
  for (const text of object.spec.loadBalancerSourceRanges ?? []) {
    // (Unreadable ranges pass: only a headless or ExternalName Service, never programmed, gets here with one.)
    const cidr = canonicalCIDR(text.trim());
    if (cidr === null || !kept.some((other) => overlap(other, cidr))) kept.push(cidr ?? text);
  }
  object.spec.loadBalancerSourceRanges = kept;
  return { ...event, object };
}
