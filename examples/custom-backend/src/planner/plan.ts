import { endpointAddress, type ServicePortState, type SyncRequest } from '@kplane/core';

/**
 * The lines one sync writes: a full sync replaces the file with a "reset" and every port, a
 * partial one appends a line per changed port. Pure, and with no commit: the backend keeps no
 * model of the file (a failed write makes core's next sync a full one).
 */
export function planLines({ full, changed, state }: SyncRequest): { lines: string[]; append: boolean } {
  if (full) return { lines: [{ op: 'reset' }, ...[...state.values()].map(describe)].map((line) => JSON.stringify(line)), append: false };
  const lines = [...changed].map((key) => {
    const port = state.get(key);
    return JSON.stringify(port ? describe(port) : { op: 'delete', key });
  });
  return { lines, append: true };
}

function describe({ servicePort, internalEndpoints, externalEndpoints, draining }: ServicePortState): object {
  return {
    op: 'set',
    key: servicePort.key,
    protocol: servicePort.protocol,
    frontends: [...servicePort.clusterIPs, ...servicePort.externalIPs, ...servicePort.loadBalancerIPs].map((ip) => endpointAddress({ ip, port: servicePort.port })),
    nodePort: servicePort.nodePort,
    endpoints: internalEndpoints.map(endpointAddress),
    externalEndpoints: externalEndpoints.map(endpointAddress),
    draining: draining.map(endpointAddress),
  };
}
