import ipaddr from 'ipaddr.js';
import type { IPFamily } from '@kplane/core';
import type { Prefix } from '../tree/bits.js';

export function addressWidth(family: IPFamily): number {
  return family === 4 ? 32 : 128;
}

/** An address (canonical text, as core's model holds it) as a key of the tree. */
export function addressKey(ip: string): bigint {
  return ipaddr.parse(ip).toByteArray().reduce((key, byte) => (key << 8n) | BigInt(byte), 0n);
}

/** A prefix of the tree as iptables prints it: `10.96.0.0/12`, `fd00::/108`. */
export function prefixText(prefix: Prefix, family: IPFamily): string {
  const bytes: number[] = [];
  for (let shift = BigInt(addressWidth(family) - 8); shift >= 0n; shift -= 8n) bytes.push(Number((prefix.bits >> shift) & 0xffn));
  return `${ipaddr.fromByteArray(bytes).toString()}/${prefix.length}`;
}

