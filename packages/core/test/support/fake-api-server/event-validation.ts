/**
 * The API server's checks on an events.k8s.io/v1 Event at creation (ValidateEventCreate), so that a
 * client sending a malformed Event fails here as it would on a cluster. Returns the problem, or null.
 */
export function validateEvent(event: Record<string, unknown>): string | null {
  const text = (field: string): string => (typeof event[field] === 'string' ? (event[field] as string) : '');
  const metadata = (event.metadata ?? {}) as { name?: string; generateName?: string; namespace?: string };
  const regarding = (event.regarding ?? {}) as { namespace?: string };
  if (metadata.name === undefined && metadata.generateName !== undefined) {
    // The prefix itself must be a DNS-1123 subdomain, a trailing "-" excepted (apimachinery's maskTrailingDash).
    const prefix = metadata.generateName.replace(/-$/, 'a');
    if (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253) return `metadata.generateName: Invalid value: "${metadata.generateName}": a DNS-1123 subdomain is required`;
  } else if (!DNS_SUBDOMAIN.test(metadata.name ?? '') || (metadata.name ?? '').length > 253) {
    return `metadata.name: Invalid value: "${metadata.name ?? ''}": a DNS-1123 subdomain is required`;
  }
  if (!RFC3339_MICRO.test(text('eventTime'))) return `eventTime: Invalid value: "${text('eventTime')}": must be RFC 3339 with microseconds`;
  if (text('type') !== 'Normal' && text('type') !== 'Warning') return `type: Invalid value: "${text('type')}": has invalid value`;
  if (!QUALIFIED_NAME.test(text('reportingController'))) return `reportingController: Invalid value: "${text('reportingController')}": must be a qualified name`;
  for (const [field, limit] of [['reportingInstance', 128], ['action', 128], ['reason', 128]] as const) {
    if (text(field) === '') return `${field}: Required value`;
    if (text(field).length > limit) return `${field}: Too long: may not be longer than ${limit}`;
  }
  if (Buffer.byteLength(text('note')) > 1024) return 'note: Too long: may not be longer than 1024';
  if (regarding.namespace ? metadata.namespace !== regarding.namespace : metadata.namespace !== 'default' && metadata.namespace !== undefined) {
    return 'regarding.namespace: Invalid value: does not match event.namespace';
  }
  return null;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RFC3339_MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
