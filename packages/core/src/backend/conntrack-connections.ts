import { endpointAddress, type Endpoint } from '../model/service-port.js';
import type { Executor } from './executor.js';

/** TCP states of a connection that is over but lingers in the table; they do not hold a drain open. */
const FINISHED_TCP_STATES = new Set(['TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK']);

/**
 * Open NATed connections per endpoint, read from conntrack in one listing per IP family (for
 * backends whose dataplane is conntrack NAT: nft, iptables). Keyed by `endpointAddress`.
 */
export async function conntrackConnections(executor: Executor, endpoints: readonly Endpoint[]): Promise<Map<string, number>> {
  const counts = new Map(endpoints.map((endpoint) => [endpointAddress(endpoint), 0]));
  for (const family of new Set(endpoints.map((endpoint) => endpoint.family))) {
    const listing = await executor.read({ tool: 'conntrack', args: ['-L', '-f', family === 4 ? 'ipv4' : 'ipv6', '--dst-nat'] });
    for (const line of listing.split('\n')) {
      const reply = replySource(line);
      if (reply && counts.has(reply)) counts.set(reply, counts.get(reply)! + 1);
    }
  }
  return counts;
}

/** `ip:port` of the reply direction's source (the endpoint), or null for a finished or unparsable entry. */
function replySource(line: string): string | null {
  const fields = line.trim().split(/\s+/);
  if (fields[0] === 'tcp' && FINISHED_TCP_STATES.has(fields[3] ?? '')) return null;
  const sources = fields.filter((field) => field.startsWith('src=')).map((field) => field.slice(4));
  const ports = fields.filter((field) => field.startsWith('sport=')).map((field) => Number(field.slice(6)));
  if (sources.length < 2 || ports.length < 2) return null;
  return endpointAddress({ ip: sources[1]!, port: ports[1]! });
}
