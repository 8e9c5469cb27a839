import { z } from 'zod';
import { dnsLabel, dnsSubdomain, ianaServiceName, labelValue, list, portNumber, protocol, serviceName } from './fields.js';

/**
 * The parts of core/v1 Service, discovery.k8s.io/v1 EndpointSlice and core/v1 Node that a proxy
 * reads: their shape, names, ports and enums. Addresses are checked (and made canonical) by the
 * converters in validate.ts, which know the field each came from.
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

const servicePort = z.object({
  name: dnsLabel.nullish(),
  protocol,
  port: portNumber,
  targetPort: z.union([portNumber, ianaServiceName]).nullish(),
  nodePort: portNumber.nullish(),
});

export const serviceSchema = z.object({
  kind: z.literal('Service'),
  metadata: metadata.extend({ name: serviceName }),
  spec: z.object({
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
    clusterIP: z.string().nullish(),
    clusterIPs: list(z.string()),
    ports: list(servicePort),
    externalIPs: list(z.string()),
    loadBalancerSourceRanges: list(z.string()),
    sessionAffinity: z.enum(['None', 'ClientIP']).default('None'),
    sessionAffinityConfig: z.object({
      clientIP: z.object({ timeoutSeconds: z.number().int().min(1).max(86400, 'must be 1..86400').nullish() }).nullish(),
    }).nullish(),
    externalTrafficPolicy: z.enum(['Cluster', 'Local', 'Global']).nullish(),
    internalTrafficPolicy: z.enum(['Cluster', 'Local']).nullish(),
    healthCheckNodePort: portNumber.nullish(),
    trafficDistribution: z.string().max(63).nullish(),
  }),
  status: z.object({
    loadBalancer: z.object({
      ingress: list(z.object({ ip: z.string().nullish(), hostname: z.string().nullish(), ipMode: z.enum(['VIP', 'Proxy']).nullish() })),
    }).nullish(),
  }).nullish(),
});

export const endpointSliceSchema = z.object({
  kind: z.literal('EndpointSlice'),
  metadata: metadata.extend({
    labels: z.record(z.string(), z.string()).refine((labels) => SERVICE_NAME_LABEL in labels, `must carry the ${SERVICE_NAME_LABEL} label`),
  }),
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  endpoints: list(z.object({
    addresses: z.array(z.string()).min(1, 'needs at least one address').max(100),
    conditions: z.object({ ready: z.boolean().nullish(), serving: z.boolean().nullish(), terminating: z.boolean().nullish() }).nullish(),
    nodeName: dnsSubdomain.nullish(),
    zone: labelValue.nullish(),
    hints: z.object({ forZones: list(z.object({ name: labelValue })) }).nullish(),
  })),
  ports: list(z.object({
    name: z.union([z.literal(''), dnsLabel]).nullish(),
    protocol,
    port: portNumber.nullish(),
  })),
});

export const nodeSchema = z.object({
  kind: z.literal('Node'),
  metadata: metadata.omit({ namespace: true }).extend({ deletionTimestamp: z.string().nullish() }),
  spec: z.object({ taints: list(z.object({ key: z.string(), effect: z.string().nullish() })) }).nullish(),
  status: z.object({
    addresses: list(z.object({ type: z.string(), address: z.string() })),
  }).nullish(),
});

export type ServiceObject = z.infer<typeof serviceSchema>;
export type EndpointSliceObject = z.infer<typeof endpointSliceSchema>;
export type NodeObject = z.infer<typeof nodeSchema>;
