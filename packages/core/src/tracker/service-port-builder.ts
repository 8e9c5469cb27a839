import type { Endpoint, ServicePort, ServicePortState } from '../model/service-port.js';
import type { ValidEndpointSlice } from '../validation/validate.js';
import { selectEndpoints, type NodeLocation } from './endpoint-selection.js';

/**
 * A service port with its endpoints merged from every slice and the selection made for new
 * connections. It is already a ServicePortState with no drains: the engine lays drains over it
 * only for the few ports that have some, so a full sync allocates nothing per port.
 */
export type SelectedServicePort = ServicePortState;

const NO_DRAINS: readonly Endpoint[] = Object.freeze([]);

/** Builds the selected state of the ports of one Service (as programmed: see FrontendClaims) from its EndpointSlices. */
export function buildServicePorts(ports: readonly ServicePort[], slices: readonly ValidEndpointSlice[], node: NodeLocation): SelectedServicePort[] {
  return ports.map((servicePort) => {
    const endpoints = mergeEndpoints(servicePort, slices);
    const { internalEndpoints, externalEndpoints } = selectEndpoints(servicePort, endpoints, node);
    return { servicePort, endpoints, internalEndpoints, externalEndpoints, draining: NO_DRAINS };
  });
}

/**
 * The endpoints of one port: every slice port with the same name and protocol, deduplicated by address
 * (an endpoint can sit in two slices while the controller moves it; the ready copy wins).
 */
function mergeEndpoints(servicePort: ServicePort, slices: readonly ValidEndpointSlice[]): Endpoint[] {
  const byAddress = new Map<string, Endpoint>();
  for (const slice of slices) {
    if (slice.family === null) continue;
    const slicePort = slice.ports.find((port) => port.name === servicePort.portName && port.protocol === servicePort.protocol);
    if (!slicePort) continue;
    for (const sliceEndpoint of slice.endpoints) {
      const { ip, ready, serving, terminating, nodeName, zone, hintZones, hintNodes } = sliceEndpoint;
      const endpoint: Endpoint = { ip, family: slice.family, port: slicePort.port, ready, serving, terminating, nodeName, zone, hintZones, hintNodes };
      const address = `${ip}|${slicePort.port}`;
      const known = byAddress.get(address);
      if (!known || (!known.ready && endpoint.ready)) byAddress.set(address, endpoint);
    }
  }
  return [...byAddress.values()].sort(compareEndpoints);
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port;
}
