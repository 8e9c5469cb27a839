/**
 * Whether the kernel's IPVS balances SCTP (CONFIG_IP_VS_PROTO_SCTP), from the protocol handler
 * symbols its symbol table shows: true, false (TCP's handler is there, SCTP's is not), or null
 * (the kernel shows neither: it hides data symbols).
 */
export function ipvsHasSctp(symbols: string): boolean | null {
  const names = new Set(symbols.split('\n').map((line) => line.trim()));
  if (names.has('ip_vs_protocol_sctp')) return true;
  return names.has('ip_vs_protocol_tcp') ? false : null;
}
