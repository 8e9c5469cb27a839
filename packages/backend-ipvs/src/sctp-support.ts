import type { Query } from '@kplane/core';

/**
 * Which of IPVS's protocol handlers the running kernel has, from its symbol table. IPVS accepts an
 * SCTP virtual service even when it was built without SCTP (CONFIG_IP_VS_PROTO_SCTP) and then never
 * balances its packets: the handler's symbol is the only sign. TCP's is the control (ip_vs is loaded
 * by then, and a kernel that hides data symbols shows neither). grep exits 1 when it finds none.
 */
export const IPVS_PROTOCOLS_QUERY: Query = { tool: 'grep', args: ['-o', '-w', '-E', 'ip_vs_protocol_(tcp|sctp)', '/proc/kallsyms'] };

/** true: IPVS balances SCTP; false: it cannot; null: the kernel does not tell. */
export function ipvsHasSctp(symbols: string): boolean | null {
  const names = new Set(symbols.split('\n').map((line) => line.trim()));
  if (names.has('ip_vs_protocol_sctp')) return true;
  return names.has('ip_vs_protocol_tcp') ? false : null;
}
