import { z } from 'zod';
import { canonicalCIDR, ipFamily } from '../model/ip.js';
import { fieldPath, InvalidObjectError, type Validated } from './invalid-object-error.js';
import { dnsSubdomain } from './fields.js';

/**
 * networking.k8s.io/v1 ServiceCIDR: the ranges ClusterIPs are allocated from. A proxy reads only
 * `spec.cidrs` (kube-proxy takes them whatever the object's status says).
 */
export const serviceCIDRSchema = z.object({
  kind: z.literal('ServiceCIDR'),
  metadata: z.object({ name: dnsSubdomain }),
  spec: z.object({ cidrs: z.array(z.string()).nullish() }).nullish(),
});

export interface ValidServiceCIDR {
  readonly name: string;
  /** Canonical CIDRs (host bits cleared), at most one per family. */
  readonly cidrs: readonly string[];
}

/**
 * Mirrors pkg/apis/networking/validation ValidateServiceCIDR: one or two CIDRs, two only when one
 * of each family. A CIDR written with host bits set is taken as its network (what the range means),
 * since that cannot program anything wider than the object says.
 */
export function validateServiceCIDR(raw: unknown): Validated<ValidServiceCIDR> {
  const refused = (field: string, detail: string): Validated<ValidServiceCIDR> => ({ ok: false, error: new InvalidObjectError('ServiceCIDR', nameOf(raw), field, detail) });
  const result = serviceCIDRSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    return refused(fieldPath(issue.path), issue.message);
  }
  const listed = result.data.spec?.cidrs ?? [];
  if (listed.length === 0) return refused('spec.cidrs', 'at least one CIDR required');
  if (listed.length > 2) return refused('spec.cidrs', 'may only hold up to 2 values');
  const cidrs: string[] = [];
  for (const [index, text] of listed.entries()) {
    const cidr = canonicalCIDR(text);
    if (cidr === null) return refused(`spec.cidrs[${index}]`, `must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64), not ${JSON.stringify(text)}`);
    cidrs.push(cidr);
  }
  if (cidrs.length === 2 && ipFamily(cidrs[0]!) === ipFamily(cidrs[1]!)) {
    return refused('spec.cidrs', 'may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64');
  }
  return { ok: true, value: { name: result.data.metadata.name, cidrs } };
}

/** The object's name for messages, before it is known to be valid (a ServiceCIDR has no namespace). */
function nameOf(raw: unknown): string {
  const name = (raw as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  return typeof name === 'string' ? JSON.stringify(name).slice(1, -1).slice(0, 80) : '<unnamed>';
}
