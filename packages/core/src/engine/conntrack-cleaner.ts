import { inject, injectable } from 'inversify';
import type { Executor } from '../backend/executor.js';
import { ipFamily } from '../model/ip.js';
import { TOKENS } from '../di/tokens.js';
import { endpointAddress, type Endpoint, type ServicePort } from '../model/service-port.js';

/** One service port's programmed endpoints before and after a sync. */
export interface ProgrammedChange {
  readonly servicePort: ServicePort;
  readonly before: readonly Endpoint[];
  readonly after: readonly Endpoint[];
}

/**
 * Deletes the UDP conntrack entries a sync made stale, and only those (kube-proxy's rules):
 * - flows NATed to an endpoint that is no longer programmed (their packets would go nowhere);
 * - flows to a frontend that had no endpoint, recorded without NAT (reply source = the frontend),
 *   which would otherwise keep bypassing the new rules.
 * The conntrack tool has no batch input, so this is one call per stale endpoint or frontend:
 * bounded by what changed, never by the number of services.
 */
@injectable()
export class ConntrackCleaner {
  constructor(@inject(TOKENS.Executor) private readonly executor: Executor) {}

  async clean(changes: readonly ProgrammedChange[]): Promise<void> {
    const commands: string[][] = [];
    for (const { servicePort, before, after } of changes) {
      if (servicePort.protocol !== 'UDP') continue;
      const remaining = new Set(after.map(endpointAddress));
      const removed = new Map(before.map((endpoint) => [endpointAddress(endpoint), endpoint]));
      for (const [address, endpoint] of removed) {
        if (!remaining.has(address)) {
          commands.push(['-D', '-f', family(endpoint.ip), '-p', 'udp', '--dst-nat', endpoint.ip, '--reply-port-src', String(endpoint.port)]);
        }
      }
      if (before.length === 0 && after.length > 0) commands.push(...unNatedFlows(servicePort));
    }
    for (const args of commands) await this.executor.apply({ tool: 'conntrack', args, input: '' }).catch(ignoreNothingDeleted);
  }
}

function unNatedFlows(port: ServicePort): string[][] {
  const frontends = [...port.clusterIPs, ...port.externalIPs, ...port.loadBalancerIPs];
  const flows = frontends.map((ip) => ['-D', '-f', family(ip), '-p', 'udp', '--orig-dst', ip, '--orig-port-dst', String(port.port), '--reply-src', ip]);
  if (port.nodePort !== null) {
    for (const name of new Set(frontends.map(family))) {
      flows.push(['-D', '-f', name, '-p', 'udp', '--orig-port-dst', String(port.nodePort), '--reply-port-src', String(port.nodePort)]);
    }
  }
  return flows;
}

function family(ip: string): 'ipv4' | 'ipv6' {
  return ipFamily(ip) === 4 ? 'ipv4' : 'ipv6';
}

/** `conntrack -D` exits 1 when no entry matched, which is the common, harmless case. */
function ignoreNothingDeleted(error: unknown): void {
  if (error instanceof Error && /0 flow entries have been deleted/.test(error.message)) return;
  throw error;
}
