import type { z } from 'zod';
import { canonicalCIDR, canonicalIP, ipFamily } from '../model/ip.js';
import { kernelId } from '../model/kernel-id.js';
import type { Endpoint, IPFamily, Protocol, ServiceName, ServicePort, ServiceType } from '../model/service-port.js';
import { fieldPath, InvalidObjectError, type Validated } from './invalid-object-error.js';
import {
  endpointSliceSchema, nodeSchema, serviceSchema, AUTOSCALER_DELETE_TAINT, SERVICE_NAME_LABEL, TRIGGER_TIME_ANNOTATION, ZONE_LABEL,
  type EndpointSliceObject, type ServiceObject,
} from './kubernetes-objects.js';

/** A part of an object that cannot be programmed safely: skipped alone, the rest of the object is kept. */
export interface SkippedPart {
  /** The field, as `spec.ports[1].nodePort` or `endpoints[3].addresses[0]`. */
  readonly field: string;
  readonly detail: string;
}

/** A Service reduced to its ports; headless and ExternalName Services have none (a proxy ignores them). */
export interface ValidService {
  readonly name: ServiceName;
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
  readonly service: ServiceName;
  /** null for FQDN slices, which a proxy ignores. */
  readonly family: IPFamily | null;
  readonly endpoints: readonly SliceEndpoint[];
  readonly ports: readonly SlicePort[];
  /** `endpoints.kubernetes.io/last-change-trigger-time` in ms, for the network programming latency metric. */
  readonly triggerTime: number | null;
  /** Endpoints left out because their address cannot be programmed safely. */
  readonly skipped: readonly SkippedPart[];
}

export interface ValidNode {
  readonly name: string;
  readonly zone: string | null;
  readonly addresses: readonly string[];
  /** False while the Node is being deleted or drained by the cluster autoscaler (/healthz then fails). */
  readonly eligible: boolean;
}

export function validateService(raw: unknown): Validated<ValidService> {
  return parse('Service', raw, serviceSchema, toService);
}

export function validateEndpointSlice(raw: unknown): Validated<ValidEndpointSlice> {
  return parse('EndpointSlice', raw, endpointSliceSchema, toEndpointSlice);
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

/** Thrown by the converters below for rules a schema cannot express; turned into a rejection by `parse`. */
class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
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

/** Best-effort `namespace/name` for error messages, before the object is known to be valid. */
export function objectRef(raw: unknown): string {
  const metadata = (raw as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  const name = typeof metadata?.name === 'string' ? JSON.stringify(metadata.name).slice(1, -1).slice(0, 80) : '<unnamed>';
  const namespace = typeof metadata?.namespace === 'string' ? JSON.stringify(metadata.namespace).slice(1, -1).slice(0, 80) : 'default';
  return `${namespace}/${name}`;
}

function toService(object: ServiceObject): ValidService {
  const { spec } = object;
  const name = `${object.metadata.namespace}/${object.metadata.name}`;
  const listed = spec.clusterIPs?.length ? spec.clusterIPs : null;
  const declared = listed ?? (spec.clusterIP ? [spec.clusterIP] : []);
  if (spec.type === 'ExternalName' || declared.includes('None')) return { name, ports: [], skipped: [] };
  if (declared.length === 0) throw new FieldError('spec.clusterIP', 'required (or "None" for a headless Service)');
  const clusterIPs = declared.map((ip, index) => address(ip, listed ? `spec.clusterIPs[${index}]` : 'spec.clusterIP'));
  if (spec.clusterIP && listed && spec.clusterIP !== listed[0]) {
    throw new FieldError('spec.clusterIPs[0]', `must equal spec.clusterIP (${spec.clusterIP})`);
  }
  if (clusterIPs.length > 2 || new Set(clusterIPs.map((ip) => ipFamily(ip))).size !== clusterIPs.length) {
    throw new FieldError('spec.clusterIPs', 'at most one IP per family');
  }
  const specPorts = spec.ports ?? [];
  if (specPorts.length > 1) {
    const names = new Set<string>();
    specPorts.forEach((port, index) => {
      if (!port.name) throw new FieldError(`spec.ports[${index}].name`, 'required when the Service has several ports');
      if (names.has(port.name)) throw new FieldError(`spec.ports[${index}].name`, `duplicate port name "${port.name}"`);
      names.add(port.name);
    });
  }
  const type: ServiceType = spec.type;
  const externalIPs = spec.externalIPs?.length ? spec.externalIPs.map((ip, index) => address(ip, `spec.externalIPs[${index}]`)) : NONE;
  const loadBalancerSourceRanges = !spec.loadBalancerSourceRanges?.length ? NONE : spec.loadBalancerSourceRanges.map((text, index) => {
    const cidr = canonicalCIDR(text.trim());
    if (cidr === null) throw new FieldError(`spec.loadBalancerSourceRanges[${index}]`, `invalid CIDR ${JSON.stringify(text)}`);
    return cidr;
  });
  const affinityTimeoutSeconds = spec.sessionAffinity === 'ClientIP'
    ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800
    : null;
  const externalTrafficLocal = spec.externalTrafficPolicy === 'Local';
  const loadBalancerIPs = type === 'LoadBalancer'
    ? (object.status?.loadBalancer?.ingress ?? []).flatMap((ingress, index) =>
      ingress.ip && ingress.ipMode !== 'Proxy' ? [address(ingress.ip, `status.loadBalancer.ingress[${index}].ip`)] : [])
    : NONE;
  const ports = specPorts.map((port, index): ServicePort => {
    if (type !== 'ClusterIP' && !port.nodePort) throw new FieldError(`spec.ports[${index}].nodePort`, `required for type ${type}`);
    const portName = port.name ?? '';
    const key = `${name}:${portName || port.port}/${port.protocol}`;
    return {
      key,
      id: kernelId(key),
      service: name,
      portName,
      protocol: port.protocol,
      type,
      port: port.port,
      targetPort: port.targetPort ?? port.port,
      clusterIPs,
      nodePort: type === 'ClusterIP' ? null : port.nodePort!,
      externalIPs,
      loadBalancerIPs,
      loadBalancerSourceRanges,
      affinityTimeoutSeconds,
      externalTrafficLocal,
      internalTrafficLocal: spec.internalTrafficPolicy === 'Local',
      healthCheckNodePort: type === 'LoadBalancer' && externalTrafficLocal ? spec.healthCheckNodePort ?? null : null,
      preferClose: spec.trafficDistribution === 'PreferClose' || spec.trafficDistribution === 'PreferSameZone',
    };
  });
  return { name, ports, skipped: [] };
}

/** Shared by every Service without external IPs, source ranges or load-balancer IPs (most of them). */
const NONE: readonly string[] = Object.freeze([]);

/** An IP address in canonical form, or a rejection naming the field. */
function address(text: string, field: string): string {
  const ip = canonicalIP(text);
  if (ip === null) throw new FieldError(field, `invalid IP address ${JSON.stringify(text)}`);
  return ip;
}

function toEndpointSlice(object: EndpointSliceObject): ValidEndpointSlice {
  const { namespace } = object.metadata;
  const serviceLabel = object.metadata.labels[SERVICE_NAME_LABEL]!;
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(serviceLabel) || serviceLabel.length > 63) {
    throw new FieldError(`metadata.labels["${SERVICE_NAME_LABEL}"]`, 'must name a Service (a DNS-1035 label)');
  }
  const family: IPFamily | null = object.addressType === 'IPv4' ? 4 : object.addressType === 'IPv6' ? 6 : null;
  const endpoints = family === null ? [] : (object.endpoints ?? []).map((endpoint, index): SliceEndpoint => {
    // A proxy uses only the first address, like kube-proxy: the others are the same Pod.
    const ip = canonicalIP(endpoint.addresses[0]!);
    if (ip === null || ipFamily(ip) !== family) {
      throw new FieldError(`endpoints[${index}].addresses[0]`, `invalid ${object.addressType} address ${JSON.stringify(endpoint.addresses[0])}`);
    }
    const terminating = endpoint.conditions?.terminating ?? false;
    return {
      ip,
      ready: (endpoint.conditions?.ready ?? true) && !terminating,
      serving: endpoint.conditions?.serving ?? true,
      terminating,
      nodeName: endpoint.nodeName ?? null,
      zone: endpoint.zone ?? null,
      hintZones: endpoint.hints ? (endpoint.hints.forZones ?? []).map((zone) => zone.name) : null,
    };
  });
  const triggerText = object.metadata.annotations?.[TRIGGER_TIME_ANNOTATION];
  const triggerTime = triggerText ? Date.parse(triggerText) : NaN;
  return {
    key: `${namespace}/${object.metadata.name}`,
    service: `${namespace}/${serviceLabel}`,
    family,
    endpoints,
    ports: (object.ports ?? []).filter((port) => port.port != null).map((port) => ({ name: port.name ?? '', protocol: port.protocol, port: port.port! })),
    triggerTime: Number.isNaN(triggerTime) ? null : triggerTime,
    skipped: [],
  };
}
