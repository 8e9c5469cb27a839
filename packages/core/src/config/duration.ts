const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration as kube-proxy's flags and config take them (`1s`, `500ms`, `1h0m0s`) into ms. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = pattern.exec(trimmed); match; match = pattern.exec(trimmed)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed = pattern.lastIndex;
  }
  if (trimmed === '0') return 0;
  if (consumed === 0 || consumed !== trimmed.length) throw new Error(`invalid duration "${text}" (expected e.g. 1s, 500ms, 1h30m)`);
  return total;
}
