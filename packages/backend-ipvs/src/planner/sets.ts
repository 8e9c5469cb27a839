import type { IPFamily, Protocol } from '@kplane/core';
import { SET_PREFIX } from './names.js';
import { serviceKey } from './virtual-service.js';

/**
 * The ipsets behind the few iptables rules IPVS still needs. Set names are `kplane-ipvs<family>-<kind>`.
 * The frontend sets (`records`) list every virtual service kplane created, as `address,proto:port`,
 * and are written before it: with the dummy interface's addresses they are how `cleanup` and a
 * restarted kplane recognise kplane's virtual services, node-port ones included. (A record goes in
 * the same sync as its virtual service, in the batch just before, so only a crash between the two
 * batches can leave a node-port service unrecognised; service addresses stay on the dummy until after.)
 */
export const SET_KINDS = {
  'cluster-ip': { type: 'hash:ip,port', records: true },
  external: { type: 'hash:ip,port', records: true },
  'external-local': { type: 'hash:ip,port', records: true },
  'node-port': { type: 'hash:ip,port', records: true },
  'node-port-local': { type: 'hash:ip,port', records: true },
  /** endpoint,proto:port,endpoint: a pod reaching itself through a service is masqueraded. */
  hairpin: { type: 'hash:ip,port,ip', records: false },
  /** Load-balancer frontends that have source ranges. */
  'lb-fw': { type: 'hash:ip,port', records: false },
  /** lb,proto:port,allowed-cidr. */
  'lb-src': { type: 'hash:ip,port,net', records: false },
  /** Every address on the dummy interface. */
  vip: { type: 'hash:ip', records: false },
} as const;

export type SetKind = keyof typeof SET_KINDS;

export const FAMILIES: readonly IPFamily[] = [4, 6];

export function setName(kind: SetKind, family: IPFamily): string {
  return `${SET_PREFIX}${family}-${kind}`;
}

/** Every set of this backend, in a fixed order. */
export const SET_NAMES: readonly { name: string; kind: SetKind; family: IPFamily }[] = FAMILIES.flatMap((family) =>
  (Object.keys(SET_KINDS) as SetKind[]).map((kind) => ({ name: setName(kind, family), kind, family })));

const RECORD_SETS = new Set(SET_NAMES.filter(({ kind }) => SET_KINDS[kind].records).map(({ name }) => name));

/** A set member as one string, `set entry`: what the planner diffs and what `ipset save` lists. */
export function member(set: string, entry: string): string {
  return `${set} ${entry}`;
}

/** The virtual service a record member stands for, or null when the member records none. */
export function recordedService(setMember: string): string | null {
  const [set = '', entry = ''] = setMember.split(' ');
  if (!RECORD_SETS.has(set)) return null;
  const match = /^(.+),(tcp|udp|sctp):(\d+)$/.exec(entry);
  return match ? serviceKey(match[2]!.toUpperCase() as Protocol, match[1]!, Number(match[3])) : null;
}

/** An `ip,proto:port` entry. */
export function ipPortEntry(ip: string, protocol: string, port: number): string {
  return `${ip},${protocol.toLowerCase()}:${port}`;
}
