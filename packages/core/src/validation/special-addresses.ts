/**
 * Addresses the API server refuses as external IPs and endpoint addresses (validation.go
 * ValidateNonSpecialIP / ValidateEndpointIP): steering traffic to or from them would reach this
 * host's own loopback or link-local services. Checked on canonical text: this runs for every endpoint.
 */
export function specialAddressReason(ip: string): string | null {
  if (ip === '0.0.0.0' || ip === '::') return 'unspecified';
  if (ip.startsWith('127.') || ip === '::1') return 'loopback';
  // 169.254.0.0/16 and fe80::/10 (fe80 to febf).
  if (ip.startsWith('169.254.') || /^fe[89ab][0-9a-f]:/.test(ip)) return 'link-local';
  // 224.0.0.0/24 and ff02::/16.
  if (ip.startsWith('224.0.0.') || ip.startsWith('ff02:')) return 'link-local multicast';
  return null;
}
