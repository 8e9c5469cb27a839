import { cidrContains, ipFamily } from '../model/ip.js';
import type { ValidServiceCIDR } from '../validation/service-cidr.js';

/**
 * The service CIDRs of the cluster: those of every ServiceCIDR object (kube-proxy's union of their
 * `spec.cidrs`) and those given by --service-cidr. Kept per object, so deleting one of two objects
 * with the same range keeps the range.
 */
export class ServiceCIDRs {
  private readonly objects = new Map<string, readonly string[]>();
  private union: readonly string[];

  constructor(private readonly configured: readonly string[]) {
    this.union = merged(configured);
  }

  /** Canonical, sorted, and without a range that another one covers. */
  get current(): readonly string[] {
    return this.union;
  }

  upsert(object: ValidServiceCIDR): void {
    this.objects.set(object.name, object.cidrs);
    this.recompute();
  }

  delete(name: string): void {
    if (this.objects.delete(name)) this.recompute();
  }

  private recompute(): void {
    this.union = merged([...this.configured, ...[...this.objects.values()].flat()]);
  }
}

/** Ranges covered by another are left out: the rules then need one match per distinct range. */
function merged(cidrs: readonly string[]): string[] {
  const distinct = [...new Set(cidrs)];
  return distinct.filter((cidr) => !distinct.some((other) => other !== cidr && covers(other, cidr))).sort();
}

function covers(outer: string, inner: string): boolean {
  const [network, length] = inner.split('/') as [string, string];
  return ipFamily(outer) === ipFamily(inner) && Number(outer.split('/')[1]) <= Number(length) && cidrContains(outer, network);
}
