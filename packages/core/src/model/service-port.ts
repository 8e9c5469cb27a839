/** The internal model: validated once at the boundary, trusted everywhere inside. */

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamily = 4 | 6;
export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
/** spec.trafficDistribution as kube-proxy reads it (PreferClose is the old name of PreferSameZone). */
export type TrafficDistribution = 'PreferSameZone' | 'PreferSameNode';

/** `namespace/name` of a Service (or of the Service an EndpointSlice belongs to). */
export type ServiceName = string;

/** `namespace/name:portName/protocol`: the unit the tracker, the engine and every backend work in. */
export type ServicePortKey = string;

/** One port of one Service, with everything a dataplane needs to know about its frontends. */
export interface ServicePort {
  readonly key: ServicePortKey;
  /** Kernel-safe identifier derived from `key` (a hash): the only name backends write to the kernel. */
  readonly id: string;
  readonly service: ServiceName;
  readonly portName: string;
  readonly protocol: Protocol;
  readonly type: ServiceType;
  /** The Service's port on its cluster IPs, external IPs and load-balancer IPs. */
  readonly port: number;
  /** As written in the Service (a name is resolved by the EndpointSlice ports, like kube-proxy does). */
  readonly targetPort: number | string;
  /** Cluster IPs of both families (empty for a Service without one). */
  readonly clusterIPs: readonly string[];
  readonly nodePort: number | null;
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  /** CIDRs allowed to reach the load-balancer IPs; empty means everyone. */
  readonly loadBalancerSourceRanges: readonly string[];
  /** ClientIP session affinity timeout, or null when the Service has no affinity. */
  readonly affinityTimeoutSeconds: number | null;
  readonly externalTrafficLocal: boolean;
  readonly internalTrafficLocal: boolean;
  readonly healthCheckNodePort: number | null;
  /** Used only where the EndpointSlices carry no hints (no EndpointSlice controller, e.g. a file source). */
  readonly trafficDistribution: TrafficDistribution | null;
}

/** One backend address of a service port, merged from the Service's EndpointSlices. */
export interface Endpoint {
  readonly ip: string;
  readonly family: IPFamily;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly nodeName: string | null;
  readonly zone: string | null;
  /** Zones from `hints.forZones`, or null when the endpoint carries none. */
  readonly hintZones: readonly string[] | null;
  /** Nodes from `hints.forNodes` (PreferSameNode), or null when the endpoint carries none. */
  readonly hintNodes: readonly string[] | null;
}

/** Everything a backend programs for one service port: the frontends and the endpoints chosen by core. */
export interface ServicePortState {
  readonly servicePort: ServicePort;
  /** Every endpoint the EndpointSlices list for this port (for reference: use the selections below). */
  readonly endpoints: readonly Endpoint[];
  /** Endpoints for new connections from inside the cluster (cluster IPs), after internalTrafficPolicy and topology. */
  readonly internalEndpoints: readonly Endpoint[];
  /** Endpoints for new connections from outside (node ports, external and load-balancer IPs), after externalTrafficPolicy. */
  readonly externalEndpoints: readonly Endpoint[];
  /** Endpoints that take no new connections but whose established connections must keep working. */
  readonly draining: readonly Endpoint[];
}

export function endpointAddress(endpoint: Pick<Endpoint, 'ip' | 'port'>): string {
  return endpoint.ip.includes(':') ? `[${endpoint.ip}]:${endpoint.port}` : `${endpoint.ip}:${endpoint.port}`;
}
