import { hash } from 'node:crypto';

/**
 * A short, kernel-safe identifier derived from any object name. Backends build chain, set and
 * ipset names from it so that nothing an API object says is ever written to the kernel raw.
 * 16 base32 characters = 80 bits: collisions are out of reach even at millions of objects.
 */
export function kernelId(name: string): string {
  const digest = hash('sha256', name, 'buffer');
  // The first 80 bits as 16 characters of 5 bits, most significant first (two 40-bit halves:
  // beyond 2^53 a number would lose bits). Joined once, so the id is one flat string.
  const chars: string[] = [];
  for (const offset of [0, 5]) {
    const bits = digest.readUIntBE(offset, 5);
    for (let shift = 35; shift >= 0; shift -= 5) chars.push(BASE32[Math.floor(bits / 2 ** shift) % 32]!);
  }
  return chars.join('');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
