/** Builders for raw Kubernetes objects, as an API server or a manifest file would deliver them. */

export interface PortSpec {
  readonly name?: string;
  readonly port: number;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly targetPort?: number | string;
  readonly nodePort?: number;
}

export interface ServiceSpec {
  readonly namespace?: string;
  /** metadata.creationTimestamp (RFC 3339): the oldest Service wins a frontend two Services claim. */
  readonly creationTimestamp?: string;
  readonly clusterIPs: readonly string[];
  readonly ports: readonly PortSpec[];
  readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  readonly externalIPs?: readonly string[];
  readonly loadBalancerIPs?: readonly string[];
  readonly loadBalancerSourceRanges?: readonly string[];
  readonly affinitySeconds?: number;
  readonly externalTrafficPolicy?: 'Cluster' | 'Local';
  readonly internalTrafficPolicy?: 'Cluster' | 'Local';
  readonly healthCheckNodePort?: number;
  readonly trafficDistribution?: string;
}

export function serviceObject(name: string, spec: ServiceSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: spec.namespace ?? 'default', ...(spec.creationTimestamp && { creationTimestamp: spec.creationTimestamp }) },
    spec: {
      type: spec.type ?? 'ClusterIP',
      clusterIP: spec.clusterIPs[0],
      clusterIPs: spec.clusterIPs,
      // What an API server stores: it defaults the policy, and two cluster IPs need a dual-stack one.
      ipFamilyPolicy: spec.clusterIPs.length > 1 ? 'PreferDualStack' : 'SingleStack',
      ports: spec.ports.map((port) => ({ protocol: 'TCP', ...port })),
      ...(spec.externalIPs && { externalIPs: spec.externalIPs }),
      ...(spec.loadBalancerSourceRanges && { loadBalancerSourceRanges: spec.loadBalancerSourceRanges }),
      ...(spec.affinitySeconds !== undefined && { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: spec.affinitySeconds } } }),
      ...(spec.externalTrafficPolicy && { externalTrafficPolicy: spec.externalTrafficPolicy }),
      ...(spec.internalTrafficPolicy && { internalTrafficPolicy: spec.internalTrafficPolicy }),
      ...(spec.healthCheckNodePort && { healthCheckNodePort: spec.healthCheckNodePort }),
      ...(spec.trafficDistribution && { trafficDistribution: spec.trafficDistribution }),
    },
    ...(spec.loadBalancerIPs && { status: { loadBalancer: { ingress: spec.loadBalancerIPs.map((ip) => ({ ip })) } } }),
  };
}

export interface EndpointSpec {
  readonly ip: string;
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly hintZones?: readonly string[];
}

export interface SliceSpec {
  readonly namespace?: string;
  /** Defaults to `<service>-<family>`. */
  readonly name?: string;
  readonly addressType?: 'IPv4' | 'IPv6';
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
  readonly endpoints: readonly EndpointSpec[];
  readonly triggerTime?: string;
}

export function endpointSliceObject(service: string, spec: SliceSpec): Record<string, unknown> {
  const addressType = spec.addressType ?? (spec.endpoints[0]?.ip.includes(':') ? 'IPv6' : 'IPv4');
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: spec.name ?? `${service}-${addressType.toLowerCase()}`,
      namespace: spec.namespace ?? 'default',
      labels: { 'kubernetes.io/service-name': service },
      ...(spec.triggerTime && { annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': spec.triggerTime } }),
    },
    addressType,
    ports: spec.ports.map((port) => ({ name: port.name ?? '', protocol: port.protocol ?? 'TCP', port: port.port })),
    endpoints: spec.endpoints.map((endpoint) => ({
      addresses: [endpoint.ip],
      conditions: { ready: endpoint.ready ?? true, serving: endpoint.serving ?? true, terminating: endpoint.terminating ?? false },
      ...(endpoint.nodeName && { nodeName: endpoint.nodeName }),
      ...(endpoint.zone && { zone: endpoint.zone }),
      ...(endpoint.hintZones && { hints: { forZones: endpoint.hintZones.map((zone) => ({ name: zone })) } }),
    })),
  };
}
