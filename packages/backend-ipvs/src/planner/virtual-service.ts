import { endpointAddress, type Protocol } from '@kplane/core';
import type { ServiceHeader } from '../client/transaction.js';

/**
 * An IPVS virtual service as kplane programs it: NAT (masquerading) mode to every real server. Its
 * key (`-t 10.96.0.10:80`) is the service address in ipvsadm's own syntax, as `ipvsadm -S -n` prints
 * it; its persistence is ClientIP affinity's timeout.
 */
export interface VirtualService extends ServiceHeader {
  /** Real server (`ip:port`, `[ip6]:port`) → weight; weight 0 for draining ones. */
  readonly reals: ReadonlyMap<string, number>;
}

export const PROTOCOL_FLAGS: Readonly<Record<Protocol, string>> = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' };

export function serviceKey(protocol: Protocol, ip: string, port: number): string {
  return `${PROTOCOL_FLAGS[protocol]} ${endpointAddress({ ip, port })}`;
}

/** The address of a service key (`-t [fd00::10]:80` → `fd00::10`). */
export function keyAddress(key: string): string {
  const address = key.slice(key.indexOf(' ') + 1);
  return address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address.slice(0, address.lastIndexOf(':'));
}

export function sameService(a: VirtualService, b: VirtualService): boolean {
  return a.scheduler === b.scheduler && a.persistence === b.persistence;
}
