import { hash } from 'node:crypto';

/**
 * A short, kernel-safe identifier derived from any object name. Backends build chain, set and
 * ipset names from it so that nothing an API object says is ever written to the kernel raw.
 * 16 base32 characters = 80 bits: collisions are out of reach even at millions of objects.
 */
export function kernelId(name: string): string {
  const digest = hash('sha256', name, 'buffer');
  // The first 80 bits (10 bytes) as 16 characters of 5 bits, most significant first.
  let id = '';
  let bits = 0;
  let pending = 0;
  for (let index = 0; index < 10; index++) {
    pending = ((pending << 8) | digest[index]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id += BASE32[(pending >>> bits) & 31];
    }
  }
  return id;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
