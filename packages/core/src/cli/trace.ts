import { networkInterfaces } from 'node:os';
import type { Batch } from '../backend/executor.js';
import type { DataplaneBackend } from '../backend/contract.js';
import type { TraceOrigin, TracePacket } from '../backend/trace.js';
import { canonicalIP } from '../model/ip.js';
import type { Protocol } from '../model/service-port.js';

const ORIGINS: readonly TraceOrigin[] = ['node', 'pod', 'external'];

/** `kplane trace SRC DST:PORT/PROTO --from ORIGIN`'s packet; `nodeIPs` are added to this host's addresses. */
export function tracePacket(source: string, destination: string, from: string, nodeIPs: readonly string[]): TracePacket {
  const src = canonicalIP(source);
  if (!src) throw new Error(`trace: SRC ${source} is not an IP address`);
  const match = /^\[?([^\]]+?)\]?:(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(destination);
  const dst = match && canonicalIP(match[1]!);
  if (!match || !dst) throw new Error(`trace: DST ${destination}: expected ADDRESS:PORT/PROTO (IPv6 as [ADDRESS]:PORT/PROTO)`);
  if (!ORIGINS.includes(from as TraceOrigin)) throw new Error(`trace: --from ${from}: expected ${ORIGINS.join(', ')}`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new Error(`trace: port ${port} is out of range`);
  const local = Object.values(networkInterfaces()).flatMap((addresses) => (addresses ?? []).map((address) => address.address.split('%')[0]!));
  return {
    source: src,
    destination: dst,
    port,
    protocol: (match[3] ?? 'tcp').toUpperCase() as Protocol,
    from: from as TraceOrigin,
    localAddresses: [...new Set([...nodeIPs, ...local])],
  };
}

/** Runs the backend's tracer, refusing a backend without one. */
export async function traceWith(backend: DataplaneBackend, packet: TracePacket, planned?: readonly Batch[]) {
  if (!backend.trace) throw new Error(`trace: the ${backend.name} backend has no tracer`);
  return backend.trace(packet, planned);
}
