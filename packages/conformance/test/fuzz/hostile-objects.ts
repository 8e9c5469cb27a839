import fc from 'fast-check';
import type { SourceEvent } from '@kplane/core';
import { hostileString, strangeIP, strangePort, wrongValue } from './hostile-values.js';

/**
 * Generators of Services and EndpointSlices as a source could deliver them: a plausible object
 * (small pools of names, so later objects replace earlier ones and slices find their Services),
 * then a few mutations anywhere in it (a hostile string, a wrong type, a field removed, a list
 * element duplicated), or sometimes no shape at all.
 */

const NAMESPACES = ['default', 'team-a', 'kube-system'];
const PORT_NAMES = ['', 'http', 'dns', 'p-1', 'metrics'];

const serviceName = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 199 }).map((index) => `svc-${index}`) }, fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/));
const namespace = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAMESPACES) }, fc.stringMatching(/^[a-z]([a-z0-9-]{0,10}[a-z0-9])?$/));
const protocol = fc.constantFrom<unknown>('TCP', 'TCP', 'UDP', 'SCTP', '', undefined);
const port = fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 65535 }) }, strangePort);

const ipv4 = (prefix: string) => fc.tuple(fc.nat(255), fc.integer({ min: 1, max: 254 })).map(([a, b]) => `${prefix}.${a}.${b}`);
const ipv6 = (prefix: string) => fc.integer({ min: 1, max: 0xffff }).map((host) => `${prefix}::${host.toString(16)}`);
const clusterIP4 = fc.oneof({ weight: 12, arbitrary: ipv4('10.96') }, strangeIP);
const clusterIP6 = fc.oneof({ weight: 12, arbitrary: ipv6('fd00:96') }, strangeIP);
const podIP4 = fc.oneof({ weight: 6, arbitrary: ipv4('10.244') }, strangeIP);
const podIP6 = fc.oneof({ weight: 6, arbitrary: ipv6('fd00:10:244') }, strangeIP);
const publicIP = fc.oneof({ weight: 4, arbitrary: ipv4('192.0') }, { weight: 4, arbitrary: ipv4('198.51') }, { weight: 4, arbitrary: ipv6('2001:db8') }, strangeIP);

const servicePort = fc.record({
  name: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PORT_NAMES) }, hostileString),
  protocol,
  port,
  targetPort: fc.oneof(fc.constant(undefined), port, fc.constantFrom('http', 'web-8080', '')),
  nodePort: fc.oneof(fc.constant(undefined), fc.integer({ min: 30000, max: 32767 }), strangePort),
}, { requiredKeys: ['port'] });

const plainService = fc.record({
  name: serviceName,
  namespace,
  type: fc.constantFrom('ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName', ''),
  families: fc.constantFrom('4', '6', '46', '64'),
  ip4: clusterIP4,
  ip6: clusterIP6,
  ports: fc.array(servicePort, { maxLength: 5 }),
  externalIPs: fc.array(publicIP, { maxLength: 3 }),
  ingress: fc.array(publicIP, { maxLength: 2 }),
  sourceRanges: fc.array(fc.constantFrom('192.168.0.0/16', ' 10.0.0.0/8 ', '2001:db8::/32', '10.0.0.1/33', '0.0.0.0/0', 'x'), { maxLength: 3 }),
  affinity: fc.option(fc.oneof(fc.integer({ min: 1, max: 86400 }), strangePort)),
  externalTrafficPolicy: fc.constantFrom<unknown>(undefined, 'Cluster', 'Local', ''),
  internalTrafficPolicy: fc.constantFrom<unknown>(undefined, 'Cluster', 'Local'),
  healthCheckNodePort: fc.option(fc.oneof(fc.integer({ min: 30000, max: 32767 }), strangePort)),
  trafficDistribution: fc.constantFrom<unknown>(undefined, 'PreferClose', 'PreferSameZone', 'PreferSameNode', 'Elsewhere'),
}).map((s): Record<string, unknown> => {
  const clusterIPs = [...s.families].map((family) => (family === '4' ? s.ip4 : s.ip6));
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: s.name, namespace: s.namespace },
    spec: {
      type: s.type,
      clusterIP: clusterIPs[0],
      clusterIPs,
      ipFamilyPolicy: clusterIPs.length > 1 ? 'RequireDualStack' : 'SingleStack',
      ports: s.ports,
      externalIPs: s.externalIPs,
      loadBalancerSourceRanges: s.sourceRanges,
      ...(s.affinity !== null && { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinity } } }),
      externalTrafficPolicy: s.externalTrafficPolicy,
      internalTrafficPolicy: s.internalTrafficPolicy,
      ...(s.healthCheckNodePort !== null && { healthCheckNodePort: s.healthCheckNodePort }),
      trafficDistribution: s.trafficDistribution,
    },
    status: { loadBalancer: { ingress: s.ingress.map((ip) => ({ ip })) } },
  };
});

const endpoint = (ip: fc.Arbitrary<unknown>) => fc.record({
  addresses: fc.oneof({ weight: 5, arbitrary: ip.map((address) => [address]) }, fc.array(ip, { maxLength: 3 })),
  conditions: fc.record({ ready: fc.constantFrom<unknown>(true, true, false, null), serving: fc.constantFrom<unknown>(true, false, undefined), terminating: fc.constantFrom<unknown>(false, true, undefined) }),
  nodeName: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('node-a', 'node-b') }, hostileString),
  zone: fc.oneof(fc.constantFrom('zone-a', 'zone-b'), hostileString),
  hints: fc.option(fc.record({ forZones: fc.array(fc.record({ name: fc.oneof(fc.constantFrom('zone-a'), hostileString) }), { maxLength: 2 }) })),
});

const plainSlice = fc.record({
  service: serviceName,
  suffix: fc.constantFrom('a', 'b', 'x1'),
  namespace,
  addressType: fc.constantFrom('IPv4', 'IPv4', 'IPv6', 'FQDN'),
  endpoints4: fc.array(endpoint(podIP4), { maxLength: 6 }),
  endpoints6: fc.array(endpoint(podIP6), { maxLength: 6 }),
  ports: fc.array(fc.record({ name: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PORT_NAMES) }, hostileString), protocol, port }), { maxLength: 3 }),
}).map((s): Record<string, unknown> => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${s.service}-${s.suffix}`, namespace: s.namespace, labels: { 'kubernetes.io/service-name': s.service } },
  addressType: s.addressType,
  endpoints: s.addressType === 'IPv6' ? s.endpoints6 : s.endpoints4,
  ports: s.ports,
}));

type Path = readonly (string | number)[];

/** Every path into `value`, the root's children first. */
function paths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const children = Array.isArray(value) ? value.map((_, index) => index) : Object.keys(value);
  return children.flatMap((key) => {
    const path = [...prefix, key];
    return [path, ...paths((value as Record<string | number, unknown>)[key], path)];
  });
}

interface Mutation {
  readonly at: number;
  readonly op: 'replace' | 'delete' | 'duplicate';
  readonly value: unknown;
}

/** `object` (a fresh copy) with each mutation applied at the path it picks. */
function mutate(object: Record<string, unknown>, mutations: readonly Mutation[]): Record<string, unknown> {
  const copy = structuredClone(object);
  for (const { at, op, value } of mutations) {
    const all = paths(copy);
    const path = all[at % all.length]!;
    const parent = path.slice(0, -1).reduce<Record<string | number, unknown>>((node, key) => node[key] as Record<string | number, unknown>, copy);
    const key = path.at(-1)!;
    if (op === 'replace') parent[key] = value;
    else if (op === 'delete' || !Array.isArray(parent)) delete parent[key];
    else parent.push(structuredClone(parent[key as number]));
  }
  return copy;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({ at: fc.nat(), op: fc.constantFrom('replace', 'replace', 'delete', 'duplicate'), value: wrongValue });

/** Three objects in five are left as generated (many of them valid), the rest mutated up to three times. */
const mutated = (plain: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(plain, fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) })).map(([object, mutations]) => mutate(object, mutations));

/** Some objects with their kind and little else right. */
const shapeless = (kind: string) => fc.record({ kind: fc.constant(kind), metadata: fc.anything(), spec: fc.anything(), endpoints: fc.anything() });

export const hostileService = fc.oneof({ weight: 19, arbitrary: mutated(plainService) }, shapeless('Service'));
export const hostileSlice = fc.oneof({ weight: 19, arbitrary: mutated(plainSlice) }, shapeless('EndpointSlice'));

const origin = fc.constantFrom('api-server' as const, 'manifest' as const);

/** One source event: a Service or a slice (from an API server or a manifest), now and then a delete. */
export const hostileEvent: fc.Arbitrary<SourceEvent> = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(hostileService, origin).map(([object, from]): SourceEvent => ({ action: 'upsert', kind: 'Service', object, origin: from })) },
  { weight: 9, arbitrary: fc.tuple(hostileSlice, origin).map(([object, from]): SourceEvent => ({ action: 'upsert', kind: 'EndpointSlice', object, origin: from })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), serviceName).map(([ns, name]): SourceEvent => ({ action: 'delete', kind: 'Service', ref: `${ns}/${name}` })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), serviceName).map(([ns, name]): SourceEvent => ({ action: 'delete', kind: 'EndpointSlice', ref: `${ns}/${name}-a` })) },
);

function service(name: string, ports: readonly Record<string, unknown>[]): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { type: 'NodePort', clusterIP: '10.97.0.1', clusterIPs: ['10.97.0.1'], ports } };
}

function slice(service: string, ports: readonly Record<string, unknown>[], ips: readonly string[]): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4', ports,
    endpoints: ips.map((ip, index) => ({ addresses: [ip], conditions: { ready: true }, nodeName: index % 3 ? 'node-b' : 'node-a' })),
    metadata: { name: `${service}-a`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
  };
}

/** A Service with `count` ports (distinct, named, TCP and UDP) and a slice of two endpoints for all of them. */
export function manyPorts(name: string, count: number): Record<string, unknown>[] {
  const ports = Array.from({ length: count }, (_, index) => ({ name: `p${index}`, protocol: index % 2 ? 'UDP' : 'TCP', port: 1 + index }));
  return [service(name, ports), slice(name, ports, ['10.244.1.1', '10.244.2.1'])];
}

/** A one-port Service and a slice of `count` endpoints. */
export function manyEndpoints(name: string, count: number): Record<string, unknown>[] {
  const ports = [{ name: 'http', protocol: 'TCP', port: 80 }];
  return [service(name, ports), slice(name, ports, Array.from({ length: count }, (_, index) => `10.245.${index >> 8}.${index & 255}`))];
}
