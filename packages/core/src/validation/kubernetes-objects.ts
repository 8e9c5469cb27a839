import { z } from 'zod';
import { dnsLabel, dnsSubdomain, ianaServiceName, list, portName, portNumber, PROTOCOLS } from './fields.js';

/**
 * The parts of core/v1 Service, discovery.k8s.io/v1 EndpointSlice and core/v1 Node that a proxy
 * reads: their shape first. A port or an endpoint has a schema of its own, checked one by one, so
 * that a bad one is left out alone. Addresses and the rules that tie fields together are checked
 * by the converters in validate.ts (and, for manifests, create-rules.ts).
 */

const metadata = z.object({
  name: dnsSubdomain,
  namespace: dnsLabel.default('default'),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
});

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const AUTOSCALER_DELETE_TAINT = 'ToBeDeletedByClusterAutoscaler';

/** The API server defaults an empty or absent protocol (and type, and affinity) before it validates. */
const defaulted = <const T extends readonly string[]>(values: T) => z.enum(['', ...values] as ['', ...T]).nullish();

// Union members in the order values usually come: a zod union pays for every member that fails first.
export const servicePortSchema = z.object({
  name: portName.nullish(),
  protocol: defaulted(PROTOCOLS),
  port: portNumber,
  // 0 and '' mean "the same as port", like an absent targetPort.
  targetPort: z.union([portNumber, ianaServiceName, z.literal(0), z.literal('')]).nullish(),
  // 0 means "none": unallocated, or a LoadBalancer with allocateLoadBalancerNodePorts: false.
  nodePort: z.union([portNumber, z.literal(0)]).nullish(),
  appProtocol: z.string().nullish(),
});

export const serviceSchema = z.object({
  kind: z.literal('Service'),
  // The name's rule depends on where the object comes from (validate.ts).
  metadata: metadata.extend({ name: z.string(), creationTimestamp: z.string().nullish() }),
  spec: z.object({
    type: defaulted(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']),
    clusterIP: z.string().nullish(),
    clusterIPs: list(z.string()),
    ipFamilies: list(z.string()),
    ipFamilyPolicy: z.string().nullish(),
    ports: list(servicePortSchema),
    externalIPs: list(z.string()),
    externalName: z.string().nullish(),
    loadBalancerSourceRanges: list(z.string()),
    allocateLoadBalancerNodePorts: z.boolean().nullish(),
    sessionAffinity: defaulted(['None', 'ClientIP']),
    sessionAffinityConfig: z.object({
      clientIP: z.object({ timeoutSeconds: z.number().int().nullish() }).nullish(),
    }).nullish(),
    externalTrafficPolicy: defaulted(['Cluster', 'Local']),
    internalTrafficPolicy: z.enum(['Cluster', 'Local']).nullish(),
    healthCheckNodePort: z.number().int().nullish(),
    trafficDistribution: z.string().nullish(),
  }),
  status: z.object({
    loadBalancer: z.object({
      ingress: list(z.object({ ip: z.string().nullish(), hostname: z.string().nullish(), ipMode: z.string().nullish() })),
    }).nullish(),
  }).nullish(),
});

const hintNames = list(z.object({ name: z.string() }));

export const endpointSchema = z.object({
  addresses: z.array(z.string()),
  conditions: z.object({ ready: z.boolean().nullish(), serving: z.boolean().nullish(), terminating: z.boolean().nullish() }).nullish(),
  nodeName: dnsSubdomain.nullish(),
  // The API server does not check zones; kplane only compares them.
  zone: z.string().nullish(),
  hostname: z.string().nullish(),
  hints: z.object({ forZones: hintNames, forNodes: hintNames }).nullish(),
});

export const slicePortSchema = z.object({
  name: portName.nullish(),
  // Defaulted to TCP only when absent: an empty protocol is refused.
  protocol: z.enum(PROTOCOLS).nullish(),
  // The API server leaves port numbers unchecked; a proxy can only program 1..65535 (null: "all ports", unused).
  port: portNumber.nullish(),
  appProtocol: z.string().nullish(),
});

export const endpointSliceSchema = z.object({
  kind: z.literal('EndpointSlice'),
  metadata,
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  endpoints: list(endpointSchema),
  ports: list(slicePortSchema),
});

/**
 * What the intake parses: the same objects with their ports and endpoints left as they come, each
 * then checked alone by validate.ts (the schemas above say what the proxy reads, for the informers' views).
 */
export const serviceIntakeSchema = serviceSchema.extend({ spec: serviceSchema.shape.spec.extend({ ports: list(z.unknown()) }) });
export const endpointSliceIntakeSchema = endpointSliceSchema.extend({ endpoints: list(z.unknown()), ports: list(z.unknown()) });

export const nodeSchema = z.object({
  kind: z.literal('Node'),
  metadata: metadata.omit({ namespace: true }).extend({ deletionTimestamp: z.string().nullish() }),
  spec: z.object({ taints: list(z.object({ key: z.string(), effect: z.string().nullish() })) }).nullish(),
  status: z.object({
    addresses: list(z.object({ type: z.string(), address: z.string() })),
  }).nullish(),
});

export type ServiceObject = z.infer<typeof serviceIntakeSchema>;
export type EndpointSliceObject = z.infer<typeof endpointSliceIntakeSchema>;
