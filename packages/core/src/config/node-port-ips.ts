import { cidrContains } from '../model/ip.js';
import type { ProxyConfig } from './proxy-config.js';

/** The node addresses that answer NodePorts and healthCheckNodePorts; null when every local address does (no --nodeport-addresses). */
export function nodePortIPs(config: Pick<ProxyConfig, 'nodeIPs' | 'nodePortAddresses'>): string[] | null {
  if (config.nodePortAddresses.length === 0) return null;
  return config.nodeIPs.filter((ip) => config.nodePortAddresses.some((cidr) => cidrContains(cidr, ip)));
}
