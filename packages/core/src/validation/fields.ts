import { z } from 'zod';

/**
 * Field schemas shared by the object schemas. Names follow the API server's own rules, so anything
 * that could be read as rule text (spaces, quotes, braces, semicolons) is refused here.
 */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
/** A qualified name (`appProtocol`): an optional DNS subdomain prefix and a `/`, then a name of up to 63 characters. */
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export const dnsLabel = z.string().max(63).regex(DNS1123_LABEL, 'must be a DNS-1123 label (lower-case letters, digits and "-")');
/** A port name: a DNS-1123 label, or empty for the single unnamed port. */
export const portName = z.string().max(63).regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/, 'must be empty or a DNS-1123 label (lower-case letters, digits and "-")');
export const dnsSubdomain = z.string().max(253).regex(DNS1123_SUBDOMAIN, 'must be a DNS-1123 subdomain');
export const ianaServiceName = z.string().max(15).regex(IANA_SVC_NAME, 'must be an IANA service name (up to 15 lower-case letters, digits and "-")')
  .refine((name) => !name.includes('--'), 'must not contain "--"');
/** A label value; empty is allowed, as in the API server. */
export const labelValue = z.string().max(63).regex(LABEL_VALUE, 'must be a label value');
export const portNumber = z.number().int('must be an integer').min(1, 'must be 1..65535').max(65535, 'must be 1..65535');
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

export function isQualifiedName(text: string): boolean {
  const slash = text.lastIndexOf('/');
  return QUALIFIED_NAME.test(text) && text.length - slash - 1 <= 63 && slash <= 253;
}

/**
 * Kubernetes writes absent lists as null as often as it omits them. (No transform to [] here:
 * transforms cost more than the rest of a schema; the converters say `?? []`.)
 */
export function list<T extends z.ZodType>(item: T) {
  return z.array(item).nullish();
}
