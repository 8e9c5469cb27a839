import { hash } from 'node:crypto';

/**
 * A short, kernel-safe identifier derived from any object name. Backends build chain, set and
 * ipset names from it so that nothing an API object says is ever written to the kernel raw.
 * 16 base32 characters = 80 bits: collisions are out of reach even at millions of objects.
 */
export function kernelId(name: string): string {
  const digest = hash('sha256', name, 'buffer');
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length === 16) break;
  }
  return out;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
