import { z } from 'zod';
import { canonicalCIDR, canonicalIP } from '../model/ip.js';

/**
 * Field schemas shared by the object schemas. Names follow the API server's own rules, so anything
 * that could be read as rule text (spaces, quotes, braces, semicolons) is refused here.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const dnsLabel = z.string().max(63).regex(DNS1123_LABEL, 'must be a DNS-1123 label (lower-case letters, digits and "-")');
export const dnsSubdomain = z.string().max(253).regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 subdomain');
export const serviceName = z.string().max(63).regex(DNS1035_LABEL, 'must be a DNS-1035 label (a letter, then lower-case letters, digits and "-")');
export const ianaServiceName = z.string().max(15).regex(IANA_SVC_NAME, 'must be an IANA service name (up to 15 lower-case letters, digits and "-")')
  .refine((name) => !name.includes('--'), 'must not contain "--"');
export const labelValue = z.string().max(63).regex(LABEL_VALUE, 'must be a label value');
export const portNumber = z.number().int('must be an integer').min(1, 'must be 1..65535').max(65535, 'must be 1..65535');
export const protocol = z.enum(['TCP', 'UDP', 'SCTP']).default('TCP');

/** An IP address, returned in canonical form. */
export const ipAddress = ipAddressOr();

/** An IP address in canonical form, or one of the given keywords (a cluster IP may be "None"). */
export function ipAddressOr<K extends string>(...keywords: K[]) {
  return z.string().transform((text, ctx): string | K => {
    if ((keywords as string[]).includes(text)) return text as K;
    const canonical = canonicalIP(text);
    if (canonical === null) {
      ctx.addIssue({ code: 'custom', message: `invalid IP address ${JSON.stringify(text)}` });
      return z.NEVER;
    }
    return canonical;
  });
}

/** A CIDR, returned with its host bits cleared. */
export const cidr = z.string().transform((text, ctx) => {
  const canonical = canonicalCIDR(text.trim());
  if (canonical === null) {
    ctx.addIssue({ code: 'custom', message: `invalid CIDR ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return canonical;
});

/** Kubernetes writes absent lists as null as often as it omits them. */
export function list<T extends z.ZodType>(item: T) {
  return z.array(item).nullish().transform((items) => items ?? []);
}
