import type { z } from 'zod';
import { canonicalCIDR, canonicalIP, ipFamily } from '../model/ip.js';
import { kernelId } from '../model/kernel-id.js';
import type { Endpoint, IPFamily, Protocol, ServiceName, ServicePort, ServiceType, TrafficDistribution } from '../model/service-port.js';
import { serviceCreateViolation, sliceCreateViolation } from './create-rules.js';
import { dnsLabel, labelValue } from './fields.js';
import { distinctFrontends, outermostRanges } from './frontend-addresses.js';
import { fieldPath, FieldError, InvalidObjectError, type Validated } from './invalid-object-error.js';
import {
  endpointSchema, endpointSliceIntakeSchema, nodeSchema, servicePortSchema, serviceIntakeSchema, slicePortSchema,
  AUTOSCALER_DELETE_TAINT, SERVICE_NAME_LABEL, TRIGGER_TIME_ANNOTATION, ZONE_LABEL,
  type EndpointSliceObject, type ServiceObject,
} from './kubernetes-objects.js';
import { specialAddressReason } from './special-addresses.js';

/**
 * Where an object comes from decides how much is checked:
 * - 'api-server': stored by an API server, which validated it (perhaps a newer or older one than
 *   kplane knows): only what cannot be programmed safely is refused, never a rule of style;
 * - 'manifest': a file nobody validated: it is held to the API server's create-time rules as well
 *   (create-rules.ts), so a manifest kplane takes is one a cluster would take.
 */
export type ObjectOrigin = 'api-server' | 'manifest';

/** A part of an object that cannot be programmed safely: skipped alone, the rest of the object is kept. */
export interface SkippedPart {
  /** The field, as `spec.ports[1].nodePort` or `endpoints[3].addresses[0]`. */
  readonly field: string;
  readonly detail: string;
}

/** A Service reduced to its ports; headless and ExternalName Services have none (a proxy ignores them). */
export interface ValidService {
  readonly name: ServiceName;
  /** metadata.creationTimestamp in ms (null when absent): the oldest Service wins a frontend two claim. */
  readonly createdAt: number | null;
  readonly ports: readonly ServicePort[];
  /** Ports left out because a field of theirs cannot be programmed safely. */
  readonly skipped: readonly SkippedPart[];
}

/** An endpoint as one slice lists it: the port and family come from the slice. */
export type SliceEndpoint = Omit<Endpoint, 'family' | 'port'>;

export interface SlicePort {
  /** '' for the unnamed port of a single-port Service. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
}

export interface ValidEndpointSlice {
  /** `namespace/sliceName`. */
  readonly key: string;
  /** `namespace/<kubernetes.io/service-name label>`; a slice without the label names no Service (`namespace/`). */
  readonly service: ServiceName;
  /** null for FQDN slices, which a proxy ignores. */
  readonly family: IPFamily | null;
  readonly endpoints: readonly SliceEndpoint[];
  readonly ports: readonly SlicePort[];
  /** `endpoints.kubernetes.io/last-change-trigger-time` in ms, for the network programming latency metric. */
  readonly triggerTime: number | null;
  /** Endpoints and ports left out because they cannot be programmed safely. */
  readonly skipped: readonly SkippedPart[];
}

export interface ValidNode {
  readonly name: string;
  readonly zone: string | null;
  readonly addresses: readonly string[];
  /** False while the Node is being deleted or drained by the cluster autoscaler (/healthz then fails). */
  readonly eligible: boolean;
}

export function validateService(raw: unknown, origin: ObjectOrigin = 'api-server'): Validated<ValidService> {
  return parse('Service', raw, serviceIntakeSchema, (service) => {
    if (origin === 'manifest') throwIf(serviceCreateViolation(service));
    return toService(service);
  });
}

export function validateEndpointSlice(raw: unknown, origin: ObjectOrigin = 'api-server'): Validated<ValidEndpointSlice> {
  return parse('EndpointSlice', raw, endpointSliceIntakeSchema, (slice) => {
    if (origin === 'manifest') throwIf(sliceCreateViolation(slice));
    return toEndpointSlice(slice);
  });
}

export function validateNode(raw: unknown): Validated<ValidNode> {
  return parse('Node', raw, nodeSchema, (node) => ({
    name: node.metadata.name,
    zone: node.metadata.labels?.[ZONE_LABEL] ?? null,
    addresses: (node.status?.addresses ?? [])
      .filter((address) => address.type === 'InternalIP' || address.type === 'ExternalIP')
      .map((address) => canonicalIP(address.address))
      .filter((address): address is string => address !== null),
    eligible: !node.metadata.deletionTimestamp && !(node.spec?.taints ?? []).some((taint) => taint.key === AUTOSCALER_DELETE_TAINT),
  }));
}

function throwIf(violation: FieldError | null): void {
  if (violation) throw violation;
}

function parse<S extends z.ZodType, T>(kind: string, raw: unknown, schema: S, convert: (object: z.infer<S>) => T): Validated<T> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    return { ok: false, error: new InvalidObjectError(kind, objectRef(raw), fieldPath(issue.path), issue.message) };
  }
  try {
    return { ok: true, value: convert(result.data) };
  } catch (error) {
    if (error instanceof FieldError) return { ok: false, error: new InvalidObjectError(kind, objectRef(raw), error.field, error.message) };
    throw error;
  }
}

/** One element of a list checked on its own: its value, or the skipped part that says why it is left out. */
function parsePart<S extends z.ZodType>(schema: S, raw: unknown, field: string): { value: z.infer<S> } | { skipped: SkippedPart } {
  const result = schema.safeParse(raw);
  if (result.success) return { value: result.data };
  const issue = result.error.issues[0]!;
  return { skipped: { field: [field, fieldPath(issue.path)].filter(Boolean).join('.'), detail: issue.message } };
}

/** Best-effort `namespace/name` for error messages, before the object is known to be valid. */
function objectRef(raw: unknown): string {
  const metadata = (raw as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  const name = typeof metadata?.name === 'string' ? JSON.stringify(metadata.name).slice(1, -1).slice(0, 80) : '<unnamed>';
  const namespace = typeof metadata?.namespace === 'string' ? JSON.stringify(metadata.namespace).slice(1, -1).slice(0, 80) : 'default';
  return `${namespace}/${name}`;
}

/** The API server's own defaults, applied before anything is read. */
const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

function toService(object: ServiceObject): ValidService {
  const { spec } = object;
  // A DNS-1123 label: RelaxedServiceNameValidation (GA in 1.37) lets a Service name start with a digit.
  const nameCheck = dnsLabel.safeParse(object.metadata.name);
  if (!nameCheck.success) throw new FieldError('metadata.name', nameCheck.error.issues[0]!.message);
  const name = `${object.metadata.namespace}/${object.metadata.name}`;
  const createdAt = timestamp(object.metadata.creationTimestamp);
  const type: ServiceType | 'ExternalName' = spec.type || 'ClusterIP';
  const listed = spec.clusterIPs?.length ? spec.clusterIPs : null;
  const declared = listed ?? (spec.clusterIP ? [spec.clusterIP] : []);
  if (type === 'ExternalName') return { name, createdAt, ports: [], skipped: [] };
  if (declared[0] === 'None') {
    if (declared.length > 1) throw new FieldError('spec.clusterIPs', '"None" must be the first and only value');
    return { name, createdAt, ports: [], skipped: [] };
  }
  if (declared.length === 0) throw new FieldError('spec.clusterIP', 'required (or "None" for a headless Service)');
  const clusterIPs = declared.map((ip, index) => address(ip, listed ? `spec.clusterIPs[${index}]` : 'spec.clusterIP'));
  if (spec.clusterIP && listed && spec.clusterIP !== listed[0]) {
    throw new FieldError('spec.clusterIPs[0]', `must equal spec.clusterIP (${spec.clusterIP})`);
  }
  if (clusterIPs.length > 2 || new Set(clusterIPs.map((ip) => ipFamily(ip))).size !== clusterIPs.length) {
    throw new FieldError('spec.clusterIPs', 'at most one IP per family');
  }
  const listedExternalIPs = spec.externalIPs?.length ? spec.externalIPs.map((ip, index) => nonSpecialAddress(ip, `spec.externalIPs[${index}]`)) : NONE;
  const loadBalancerSourceRanges = !spec.loadBalancerSourceRanges?.length ? NONE : outermostRanges(spec.loadBalancerSourceRanges.map((text, index) => {
    // Space-padded values are allowed (a leftover of the annotation this field replaced).
    const cidr = canonicalCIDR(text.trim());
    if (cidr === null) throw new FieldError(`spec.loadBalancerSourceRanges[${index}]`, `invalid CIDR ${JSON.stringify(text)}`);
    return cidr;
  }));
  const affinityTimeoutSeconds = spec.sessionAffinity === 'ClientIP' ? affinityTimeout(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds) : null;
  const externalTrafficLocal = spec.externalTrafficPolicy === 'Local';
  const ingressIPs = type === 'LoadBalancer'
    ? (object.status?.loadBalancer?.ingress ?? []).flatMap((ingress, index) =>
      ingress.ip && ingress.ipMode !== 'Proxy' ? [address(ingress.ip, `status.loadBalancer.ingress[${index}].ip`)] : [])
    : NONE;
  const { externalIPs, loadBalancerIPs } = distinctFrontends(listedExternalIPs, ingressIPs);
  const healthCheckNodePort = type === 'LoadBalancer' && externalTrafficLocal ? healthPort(spec.healthCheckNodePort) : null;
  const internalTrafficLocal = spec.internalTrafficPolicy === 'Local';
  const distribution = trafficDistribution(spec.trafficDistribution);

  const specPorts = spec.ports ?? [];
  const skipped: SkippedPart[] = [];
  const ports: ServicePort[] = [];
  const taken = new Set<string>();
  specPorts.forEach((raw, index) => {
    const field = `spec.ports[${index}]`;
    const parsed = parsePart(servicePortSchema, raw, field);
    if ('skipped' in parsed) return skipped.push(parsed.skipped);
    const port = parsed.value;
    const portName = port.name ?? '';
    const protocol: Protocol = port.protocol || 'TCP';
    // Each of these would make two ports claim one name, one address and port, or one node port.
    const conflict = specPorts.length > 1 && !portName ? [`${field}.name`, 'required when the Service has several ports']
      : claim(taken, `name ${portName}`) ? [`${field}.name`, `duplicate port name "${portName}"`]
        : claim(taken, `port ${port.port}/${protocol}`) ? [field, `duplicate port ${port.port}/${protocol}`]
          : type !== 'ClusterIP' && port.nodePort && claim(taken, `nodePort ${port.nodePort}/${protocol}`) ? [`${field}.nodePort`, `duplicate node port ${port.nodePort}/${protocol}`]
            : null;
    if (conflict) return skipped.push({ field: conflict[0]!, detail: conflict[1]! });
    const key = `${name}:${portName || port.port}/${protocol}`;
    // Every field written out, in one order: an object spread here costs more than the rest of the validation.
    ports.push({
      service: name, type, clusterIPs, externalIPs, loadBalancerIPs, loadBalancerSourceRanges, affinityTimeoutSeconds, externalTrafficLocal,
      internalTrafficLocal, healthCheckNodePort, trafficDistribution: distribution,
      key,
      id: kernelId(key),
      portName,
      protocol,
      port: port.port,
      targetPort: port.targetPort || port.port,
      // A LoadBalancer with allocateLoadBalancerNodePorts: false has none; a ClusterIP Service never uses one.
      nodePort: type === 'ClusterIP' ? null : port.nodePort || null,
    });
  });
  return { name, createdAt, ports, skipped };
}

/** An RFC 3339 time in ms; null when absent or unreadable (such a Service ranks after every dated one). */
function timestamp(text: string | null | undefined): number | null {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

/** Adds `what` to `taken`; true when it was there already. */
function claim(taken: Set<string>, what: string): boolean {
  if (taken.has(what)) return true;
  taken.add(what);
  return false;
}

function affinityTimeout(seconds: number | null | undefined): number {
  if (seconds == null) return DEFAULT_AFFINITY_TIMEOUT_SECONDS;
  if (seconds < 1 || seconds > MAX_AFFINITY_TIMEOUT_SECONDS) {
    throw new FieldError('spec.sessionAffinityConfig.clientIP.timeoutSeconds', `must be 1..${MAX_AFFINITY_TIMEOUT_SECONDS}`);
  }
  return seconds;
}

/** Absent until the API server allocates it; a port number once it has. */
function healthPort(port: number | null | undefined): number | null {
  if (!port) return null;
  if (port > 65535 || port < 1) throw new FieldError('spec.healthCheckNodePort', 'must be 1..65535');
  return port;
}

/** kube-proxy's reading: PreferClose is PreferSameZone's old name; a value it does not know means no preference. */
function trafficDistribution(value: string | null | undefined): TrafficDistribution | null {
  if (value === 'PreferClose' || value === 'PreferSameZone') return 'PreferSameZone';
  return value === 'PreferSameNode' ? 'PreferSameNode' : null;
}

/** Shared by every Service without external IPs, source ranges or load-balancer IPs (most of them). */
const NONE: readonly string[] = Object.freeze([]);

/** An IP address in canonical form, or a rejection naming the field. */
function address(text: string, field: string): string {
  const ip = canonicalIP(text);
  if (ip === null) throw new FieldError(field, `invalid IP address ${JSON.stringify(text)}`);
  return ip;
}

/** An address traffic may be sent to or steered from: never this host's own loopback, link-local or unspecified ones. */
function nonSpecialAddress(text: string, field: string): string {
  const ip = address(text, field);
  const special = specialAddressReason(ip);
  if (special) throw new FieldError(field, `may not be ${special} (${ip})`);
  return ip;
}

function toEndpointSlice(object: EndpointSliceObject): ValidEndpointSlice {
  const { namespace } = object.metadata;
  const serviceLabel = object.metadata.labels?.[SERVICE_NAME_LABEL] ?? '';
  const labelCheck = labelValue.safeParse(serviceLabel);
  if (!labelCheck.success) throw new FieldError(`metadata.labels["${SERVICE_NAME_LABEL}"]`, labelCheck.error.issues[0]!.message);
  const family: IPFamily | null = object.addressType === 'IPv4' ? 4 : object.addressType === 'IPv6' ? 6 : null;
  const skipped: SkippedPart[] = [];
  const endpoints: SliceEndpoint[] = [];
  if (family !== null) {
    (object.endpoints ?? []).forEach((raw, index) => {
      const endpoint = toSliceEndpoint(raw, `endpoints[${index}]`, family);
      if ('skipped' in endpoint) skipped.push(endpoint.skipped);
      else endpoints.push(endpoint.value);
    });
  }
  const ports: SlicePort[] = [];
  const names = new Set<string>();
  (object.ports ?? []).forEach((raw, index) => {
    const parsed = parsePart(slicePortSchema, raw, `ports[${index}]`);
    if ('skipped' in parsed) return skipped.push(parsed.skipped);
    const name = parsed.value.name ?? '';
    if (claim(names, name)) return skipped.push({ field: `ports[${index}].name`, detail: `duplicate port name "${name}"` });
    // A null port means "all ports", which a Service's EndpointSlices never use.
    if (parsed.value.port != null) ports.push({ name, protocol: parsed.value.protocol ?? 'TCP', port: parsed.value.port });
  });
  const triggerText = object.metadata.annotations?.[TRIGGER_TIME_ANNOTATION];
  const triggerTime = triggerText ? Date.parse(triggerText) : NaN;
  return {
    key: `${namespace}/${object.metadata.name}`,
    service: `${namespace}/${serviceLabel}`,
    family,
    endpoints,
    ports,
    triggerTime: Number.isNaN(triggerTime) ? null : triggerTime,
    skipped,
  };
}

function toSliceEndpoint(raw: unknown, field: string, family: IPFamily): { value: SliceEndpoint } | { skipped: SkippedPart } {
  const parsed = parsePart(endpointSchema, raw, field);
  if ('skipped' in parsed) return parsed;
  const endpoint = parsed.value;
  // A proxy uses only the first address, like kube-proxy: the others are the same Pod.
  const first = endpoint.addresses[0];
  if (first === undefined) return { skipped: { field: `${field}.addresses`, detail: 'needs at least one address' } };
  const ip = canonicalIP(first);
  if (ip === null || ipFamily(ip) !== family) {
    return { skipped: { field: `${field}.addresses[0]`, detail: `invalid IPv${family} address ${JSON.stringify(first)}` } };
  }
  const special = specialAddressReason(ip);
  if (special) return { skipped: { field: `${field}.addresses[0]`, detail: `may not be ${special} (${ip})` } };
  const terminating = endpoint.conditions?.terminating ?? false;
  return {
    value: {
      ip,
      ready: (endpoint.conditions?.ready ?? true) && !terminating,
      serving: endpoint.conditions?.serving ?? true,
      terminating,
      nodeName: endpoint.nodeName ?? null,
      zone: endpoint.zone ?? null,
      hintZones: hintNames(endpoint.hints?.forZones),
      hintNodes: hintNames(endpoint.hints?.forNodes),
    },
  };
}

/** Hint names; an empty list is no hint at all, as kube-proxy counts them. */
function hintNames(hints: readonly { readonly name: string }[] | null | undefined): readonly string[] | null {
  return hints?.length ? hints.map((hint) => hint.name) : null;
}
