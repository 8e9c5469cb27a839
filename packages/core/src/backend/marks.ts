import type { ProxyConfig } from '../config/proxy-config.js';

/** A packet mark of one bit, as the tools write it: `0x4000`, or padded to `width` hex digits (`0x00004000`, as nft lists it). */
export function markHex(bit: number, width = 0): string {
  return `0x${(2 ** bit).toString(16).padStart(width, '0')}`;
}

/** The mark on packets to masquerade (kube-proxy's --masquerade-bit, 14 by default). */
export function masqueradeMark(config: Pick<ProxyConfig, 'masqueradeBit'>, width = 0): string {
  return markHex(config.masqueradeBit, width);
}
