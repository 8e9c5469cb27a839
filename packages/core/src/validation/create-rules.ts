import { canonicalIP, ipFamily } from '../model/ip.js';
import { dnsLabel, dnsSubdomain, isQualifiedName, labelValue } from './fields.js';
import { FieldError } from './invalid-object-error.js';
import { endpointSchema, servicePortSchema, slicePortSchema, type EndpointSliceObject, type ServiceObject } from './kubernetes-objects.js';
import { specialAddressReason } from './special-addresses.js';

/**
 * The API server's create-time rules (pkg/apis/core/validation ValidateService and
 * ValidateLoadBalancerStatus, the Service REST allocator, pkg/apis/discovery/validation
 * ValidateEndpointSlice) for fields a proxy can do without: checked only for manifests, so that a
 * file kplane takes is one a cluster would take. Objects an API server has stored skip them (it has
 * checked them, perhaps by other rules than these). Each returns the first violation, or null.
 */

const TRAFFIC_DISTRIBUTIONS = new Set(['PreferClose', 'PreferSameZone', 'PreferSameNode']);
const IP_FAMILY_POLICIES = new Set(['SingleStack', 'PreferDualStack', 'RequireDualStack']);
const IP_MODES = new Set(['VIP', 'Proxy']);
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_SLICE_PORTS = 20000;
const MAX_HINTS = 8;
const TOPOLOGY_MODE_ANNOTATION = 'service.kubernetes.io/topology-mode';
const TOPOLOGY_HINTS_ANNOTATION = 'service.kubernetes.io/topology-aware-hints';

export function serviceCreateViolation(service: ServiceObject): FieldError | null {
  const { spec } = service;
  const type = spec.type || 'ClusterIP';
  const clusterIPs = spec.clusterIPs ?? [];
  const headless = clusterIPs[0] === 'None' || (!clusterIPs.length && spec.clusterIP === 'None');
  const ports = spec.ports ?? [];
  const annotations = service.metadata.annotations ?? {};
  const mode = annotations[TOPOLOGY_MODE_ANNOTATION];
  const hints = annotations[TOPOLOGY_HINTS_ANNOTATION];
  if (mode !== undefined && hints !== undefined && mode !== hints) {
    return new FieldError(`metadata.annotations["${TOPOLOGY_MODE_ANNOTATION}"]`, `must match annotations["${TOPOLOGY_HINTS_ANNOTATION}"] when both are set`);
  }
  if (type === 'ExternalName') return externalNameViolation(service);
  if (!ports.length && !headless) return new FieldError('spec.ports', 'required');
  if (headless && type !== 'ClusterIP') return new FieldError('spec.clusterIPs[0]', `may not be "None" for ${type} Services`);
  if (!spec.clusterIP && clusterIPs.length) return new FieldError('spec.clusterIPs', 'must be empty when spec.clusterIP is not set');
  return ipFamiliesViolation(service)
    ?? first(ports, (raw, index) => {
      // Ports whose own schema fails are left out by validate.ts, as for any origin.
      const parsed = servicePortSchema.safeParse(raw);
      if (!parsed.success) return null;
      const port = parsed.data;
      if (type === 'ClusterIP' && port.nodePort) return new FieldError(`spec.ports[${index}].nodePort`, 'may not be used when type is ClusterIP');
      if (port.appProtocol != null && !isQualifiedName(port.appProtocol)) return new FieldError(`spec.ports[${index}].appProtocol`, 'must be a qualified name');
      return null;
    })
    ?? onlyFor(type === 'LoadBalancer', !!spec.loadBalancerSourceRanges?.length, 'spec.loadBalancerSourceRanges', "type is 'LoadBalancer'")
    ?? onlyFor(type === 'LoadBalancer', spec.allocateLoadBalancerNodePorts != null, 'spec.allocateLoadBalancerNodePorts', "type is 'LoadBalancer'")
    ?? onlyFor(type !== 'ClusterIP' || !!spec.externalIPs?.length, !!spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', 'the Service is reachable from outside (NodePort, LoadBalancer or externalIPs)')
    ?? onlyFor(type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local', !!spec.healthCheckNodePort, 'spec.healthCheckNodePort', "type is 'LoadBalancer' and externalTrafficPolicy is 'Local'")
    ?? (spec.trafficDistribution != null && !TRAFFIC_DISTRIBUTIONS.has(spec.trafficDistribution)
      ? new FieldError('spec.trafficDistribution', `must be one of ${[...TRAFFIC_DISTRIBUTIONS].join(', ')}`) : null)
    ?? loadBalancerStatusViolation(service);
}

function externalNameViolation(service: ServiceObject): FieldError | null {
  const { spec } = service;
  if (spec.clusterIP || spec.clusterIPs?.length) return new FieldError('spec.clusterIPs', 'may not be set for ExternalName Services');
  if (spec.ipFamilies?.length) return new FieldError('spec.ipFamilies', 'may not be set for ExternalName Services');
  if (spec.ipFamilyPolicy != null) return new FieldError('spec.ipFamilyPolicy', 'may not be set for ExternalName Services');
  // A trailing dot marks the name as fully qualified.
  const name = (spec.externalName ?? '').replace(/\.$/, '');
  if (!name) return new FieldError('spec.externalName', 'required');
  if (!dnsSubdomain.safeParse(name).success) return new FieldError('spec.externalName', 'must be a DNS-1123 subdomain');
  return null;
}

/** ValidateServiceClusterIPsRelatedFields, and the allocator's check that a single-stack Service asks for one family. */
function ipFamiliesViolation(service: ServiceObject): FieldError | null {
  const { spec } = service;
  const families = spec.ipFamilies ?? [];
  const clusterIPs = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((ip) => ip !== 'None');
  const family = first(families, (name, index) => {
    if (name !== 'IPv4' && name !== 'IPv6') return new FieldError(`spec.ipFamilies[${index}]`, 'must be IPv4 or IPv6');
    return families.indexOf(name) !== index ? new FieldError(`spec.ipFamilies[${index}]`, `duplicate ${name}`) : null;
  });
  if (family) return family;
  const policy = spec.ipFamilyPolicy;
  if (policy != null && !IP_FAMILY_POLICIES.has(policy)) return new FieldError('spec.ipFamilyPolicy', `must be one of ${[...IP_FAMILY_POLICIES].join(', ')}`);
  // No policy is SingleStack (the allocator's default), whatever the cluster IPs say.
  if ((policy ?? 'SingleStack') === 'SingleStack' && (families.length > 1 || clusterIPs.length > 1)) {
    return new FieldError('spec.ipFamilyPolicy', 'must be PreferDualStack or RequireDualStack when two IP families or cluster IPs are given');
  }
  return first(clusterIPs, (ip, index) => {
    const canonical = canonicalIP(ip);
    const expected = families[index];
    if (canonical === null || expected === undefined) return null;
    return `IPv${ipFamily(canonical)}` !== expected ? new FieldError(`spec.clusterIPs[${index}]`, `must be an ${expected} address, as spec.ipFamilies[${index}] says`) : null;
  });
}

/** ValidateLoadBalancerStatus (a status update: the API server drops status on create). */
function loadBalancerStatusViolation(service: ServiceObject): FieldError | null {
  const ingress = service.status?.loadBalancer?.ingress ?? [];
  if (ingress.length && (service.spec.type || 'ClusterIP') !== 'LoadBalancer') {
    return new FieldError('status.loadBalancer.ingress', "may only be used when type is 'LoadBalancer'");
  }
  return first(ingress, (entry, index) => {
    const field = `status.loadBalancer.ingress[${index}]`;
    if (entry.ipMode != null && !entry.ip) return new FieldError(`${field}.ipMode`, 'may not be set when ip is not set');
    if (entry.ipMode != null && !IP_MODES.has(entry.ipMode)) return new FieldError(`${field}.ipMode`, 'must be VIP or Proxy');
    if (entry.hostname && (!dnsSubdomain.safeParse(entry.hostname).success || canonicalIP(entry.hostname) !== null)) {
      return new FieldError(`${field}.hostname`, 'must be a DNS name, not an IP address');
    }
    return null;
  });
}

export function sliceCreateViolation(slice: EndpointSliceObject): FieldError | null {
  const endpoints = slice.endpoints ?? [];
  const ports = slice.ports ?? [];
  if (endpoints.length > MAX_ENDPOINTS) return new FieldError('endpoints', `must have at most ${MAX_ENDPOINTS} items`);
  if (ports.length > MAX_SLICE_PORTS) return new FieldError('ports', `must have at most ${MAX_SLICE_PORTS} items`);
  return first(endpoints, (raw, index) => {
    // Endpoints and ports whose own schema fails are left out by validate.ts, as for any origin.
    const parsed = endpointSchema.safeParse(raw);
    return parsed.success ? endpointViolation(parsed.data, slice.addressType, `endpoints[${index}]`) : null;
  }) ?? first(ports, (raw, index) => {
    const parsed = slicePortSchema.safeParse(raw);
    const appProtocol = parsed.success ? parsed.data.appProtocol : null;
    return appProtocol != null && !isQualifiedName(appProtocol) ? new FieldError(`ports[${index}].appProtocol`, 'must be a qualified name') : null;
  });
}

type EndpointFields = ReturnType<typeof endpointSchema.parse>;

function endpointViolation(endpoint: EndpointFields, addressType: EndpointSliceObject['addressType'], field: string): FieldError | null {
  if (endpoint.addresses.length > MAX_ADDRESSES) return new FieldError(`${field}.addresses`, `must have at most ${MAX_ADDRESSES} items`);
  const address = first(endpoint.addresses, (text, index) => {
    const path = `${field}.addresses[${index}]`;
    if (addressType === 'FQDN') return isFullyQualifiedDomainName(text) ? null : new FieldError(path, 'must be a fully qualified domain name');
    // The first address is the one a proxy uses: validate.ts leaves out its endpoint alone when it is bad.
    if (index === 0) return null;
    const ip = canonicalIP(text);
    if (ip === null || `IPv${ipFamily(ip)}` !== addressType) return new FieldError(path, `must be a valid ${addressType} address`);
    const special = specialAddressReason(ip);
    return special ? new FieldError(path, `may not be ${special}`) : null;
  });
  if (address) return address;
  if (endpoint.hostname != null && !dnsLabel.safeParse(endpoint.hostname).success) return new FieldError(`${field}.hostname`, 'must be a DNS-1123 label');
  return hintsViolation(endpoint.hints?.forZones ?? [], `${field}.hints.forZones`, (name) => labelValue.safeParse(name).success, 'a label value')
    ?? hintsViolation(endpoint.hints?.forNodes ?? [], `${field}.hints.forNodes`, (name) => dnsSubdomain.safeParse(name).success, 'a node name');
}

function hintsViolation(hints: readonly { name: string }[], field: string, valid: (name: string) => boolean, what: string): FieldError | null {
  if (hints.length > MAX_HINTS) return new FieldError(field, `must have at most ${MAX_HINTS} items`);
  return first(hints, ({ name }, index) => {
    if (hints.findIndex((hint) => hint.name === name) !== index) return new FieldError(`${field}[${index}].name`, `duplicate "${name}"`);
    return valid(name) ? null : new FieldError(`${field}[${index}].name`, `must be ${what}`);
  });
}

/** validation.IsFullyQualifiedDomainName: a DNS-1123 subdomain of at least two labels (a trailing dot allowed). */
function isFullyQualifiedDomainName(text: string): boolean {
  const name = text.replace(/\.$/, '');
  return name.includes('.') && dnsSubdomain.safeParse(name).success;
}

/** `field` may be set only when `allowed`. */
function onlyFor(allowed: boolean, set: boolean, field: string, condition: string): FieldError | null {
  return set && !allowed ? new FieldError(field, `may only be set when ${condition}`) : null;
}

function first<T>(items: readonly T[], check: (item: T, index: number) => FieldError | null): FieldError | null {
  for (const [index, item] of items.entries()) {
    const violation = check(item, index);
    if (violation) return violation;
  }
  return null;
}
