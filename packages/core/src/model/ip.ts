import ipaddr from 'ipaddr.js';
import type { IPFamily } from './service-port.js';

/** Dotted-quad IPv4 without leading zeros: already canonical, and by far the most common input. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** An IP address in canonical text (IPv6 compressed, lower case), or null when `text` is not one. */
export function canonicalIP(text: string): string | null {
  if (IPV4.test(text)) return text;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text).toString();
  if (ipaddr.IPv6.isValid(text) && !text.includes('%')) {
    const address = ipaddr.IPv6.parse(text);
    // IPv4-mapped addresses hide an IPv4 destination behind an IPv6 family: the API server refuses them too.
    return address.isIPv4MappedAddress() ? null : address.toString();
  }
  return null;
}

/** A CIDR with its host bits cleared (`10.1.2.3/8` → `10.0.0.0/8`), or null when `text` is not one. */
export function canonicalCIDR(text: string): string | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const address = canonicalIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === null || !/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const family = ipFamily(address);
  if (prefix > (family === 4 ? 32 : 128)) return null;
  const network = family === 4
    ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${prefix}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${prefix}`);
  return `${network.toString()}/${prefix}`;
}

export function ipFamily(canonical: string): IPFamily {
  return canonical.includes(':') ? 6 : 4;
}

/** One address as a CIDR (`10.96.0.10/32`, `fd00::10/128`): how rules and `ip` match a single host. */
export function hostCIDR(canonical: string): string {
  return `${canonical}/${ipFamily(canonical) === 4 ? 32 : 128}`;
}

/** Whether canonical `ip` lies inside canonical `cidr` (false across families). */
export function cidrContains(cidr: string, ip: string): boolean {
  const [network, range] = ipaddr.parseCIDR(cidr);
  const address = ipaddr.parse(ip);
  return address.kind() === network.kind() && address.match(network, range);
}
