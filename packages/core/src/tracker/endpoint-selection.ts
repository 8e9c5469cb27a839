import type { Endpoint, ServicePort, TrafficDistribution } from '../model/service-port.js';

/** Where this node stands, for traffic policies and topology. */
export interface NodeLocation {
  readonly name: string;
  readonly zone: string | null;
}

export interface EndpointSelection {
  readonly internalEndpoints: readonly Endpoint[];
  readonly externalEndpoints: readonly Endpoint[];
}

/**
 * Chooses the endpoints that take new connections, once for every backend (KEP-1669, kube-proxy's
 * CategorizeEndpoints): ready endpoints; serving+terminating ones only when no endpoint is ready;
 * Local traffic policies keep this node's endpoints; topology hints narrow the Cluster ones.
 */
export function selectEndpoints(port: ServicePort, endpoints: readonly Endpoint[], node: NodeLocation): EndpointSelection {
  const available = topologyFilter(port, endpoints, node);
  const cluster = usable(available ? endpoints.filter(available) : endpoints, endpoints);
  const local = usable(endpoints.filter((endpoint) => endpoint.nodeName === node.name));
  return {
    internalEndpoints: port.internalTrafficLocal ? local : cluster,
    externalEndpoints: port.externalTrafficLocal ? local : cluster,
  };
}

/** Ready endpoints, else serving+terminating ones (from `fallback`, which topology does not narrow). */
function usable(candidates: readonly Endpoint[], fallback: readonly Endpoint[] = candidates): Endpoint[] {
  const ready = candidates.filter((endpoint) => endpoint.ready);
  return ready.length > 0 ? ready : fallback.filter((endpoint) => endpoint.serving && endpoint.terminating);
}

interface HintReader {
  nodes(endpoint: Endpoint): readonly string[] | null;
  zones(endpoint: Endpoint): readonly string[] | null;
}

const DECLARED_HINTS: HintReader = { nodes: (endpoint) => endpoint.hintNodes, zones: (endpoint) => endpoint.hintZones };

/**
 * kube-proxy's topologyModeFromHints (KEP-3015): this node's endpoints when every ready endpoint has
 * a node hint and one is for this node; else this zone's when every ready endpoint has a zone hint
 * and one is for this zone; else no narrowing (null).
 */
function topologyFilter(port: ServicePort, endpoints: readonly Endpoint[], node: NodeLocation): ((endpoint: Endpoint) => boolean) | null {
  const ready = endpoints.filter((endpoint) => endpoint.ready);
  const declared = ready.some((endpoint) => endpoint.hintNodes !== null || endpoint.hintZones !== null);
  const hints = declared ? DECLARED_HINTS : controllerHints(port.trafficDistribution);
  if (ready.length === 0 || hints === null) return null;
  const forNode = (endpoint: Endpoint): boolean => hints.nodes(endpoint)?.includes(node.name) ?? false;
  if (ready.every((endpoint) => hints.nodes(endpoint) !== null) && ready.some(forNode)) return forNode;
  const zone = node.zone;
  const forZone = (endpoint: Endpoint): boolean => zone !== null && (hints.zones(endpoint)?.includes(zone) ?? false);
  if (ready.every((endpoint) => hints.zones(endpoint) !== null) && ready.some(forZone)) return forZone;
  return null;
}

/**
 * Where no EndpointSlice controller wrote hints (a file source), the ones it would write for the
 * Service's trafficDistribution: each endpoint's own zone, and for PreferSameNode its own node too.
 */
function controllerHints(distribution: TrafficDistribution | null): HintReader | null {
  if (distribution === null) return null;
  return {
    nodes: (endpoint) => (distribution === 'PreferSameNode' && endpoint.nodeName ? [endpoint.nodeName] : null),
    zones: (endpoint) => (endpoint.zone ? [endpoint.zone] : null),
  };
}
