import type { Endpoint, ServicePort } from '../model/service-port.js';

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
 * Local traffic policies keep this node's endpoints; topology hints (or PreferClose) keep this zone's.
 */
export function selectEndpoints(port: ServicePort, endpoints: readonly Endpoint[], node: NodeLocation): EndpointSelection {
  const cluster = usable(endpoints.filter(topologyFilter(port, endpoints, node)), endpoints);
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

function topologyFilter(port: ServicePort, endpoints: readonly Endpoint[], node: NodeLocation): (endpoint: Endpoint) => boolean {
  const zone = node.zone;
  const everyone = (): boolean => true;
  if (zone === null) return everyone;
  const ready = endpoints.filter((endpoint) => endpoint.ready);
  // Hints are used only when every ready endpoint carries them and one is meant for this zone.
  if (ready.length > 0 && ready.every((endpoint) => endpoint.hintZones !== null)) {
    return ready.some((endpoint) => endpoint.hintZones!.includes(zone)) ? (endpoint) => endpoint.hintZones?.includes(zone) ?? false : everyone;
  }
  // PreferClose without hints (no EndpointSlice controller, e.g. a file source): same-zone endpoints when there are any.
  if (port.preferClose && ready.some((endpoint) => endpoint.zone === zone)) return (endpoint) => endpoint.zone === zone;
  return everyone;
}
