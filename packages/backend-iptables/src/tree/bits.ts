/** A prefix of a fixed-width key: its first `length` bits, kept in `bits` with every later bit zero. */
export interface Prefix {
  readonly bits: bigint;
  readonly length: number;
}

/** Fixed-width keys (an IP address, a port) seen as bit strings, most significant bit first. */
export class KeySpace {
  constructor(readonly width: number) {}

  prefix(key: bigint, length: number): Prefix {
    const shift = BigInt(this.width - length);
    return { bits: (key >> shift) << shift, length };
  }

  contains(prefix: Prefix, key: bigint): boolean {
    return this.prefix(key, prefix.length).bits === prefix.bits;
  }

  /** How many leading bits `a` and `b` share. */
  commonLength(a: bigint, b: bigint): number {
    const differing = a ^ b;
    return differing === 0n ? this.width : this.width - differing.toString(2).length;
  }

  /** The longest prefix holding both the keys `first` and `last` (so, for sorted keys, every key between). */
  covering(first: bigint, last: bigint): Prefix {
    return this.prefix(first, this.commonLength(first, last));
  }

  /** The longest prefix that holds `prefix` and `key`. */
  widen(prefix: Prefix, key: bigint): Prefix {
    return this.prefix(key, Math.min(prefix.length, this.commonLength(prefix.bits, key)));
  }

  /** Bit `index` (0 = most significant) of `key`. */
  bit(key: bigint, index: number): 0 | 1 {
    return (key >> BigInt(this.width - 1 - index)) & 1n ? 1 : 0;
  }
}
