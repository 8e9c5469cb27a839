import { backendOption, nodePortIPs, type ProxyConfig } from '@kplane/core';
import type { PortSettings } from './planner/port-objects.js';

/** The schedulers of the IPVS kernel modules (`ip_vs_<name>`), loaded on first use. */
export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'] as const;

/** `--backend-opt scheduler=NAME` (default rr), the node addresses that answer NodePorts, the cluster CIDRs. */
export function ipvsSettings(config: ProxyConfig): PortSettings {
  return {
    scheduler: backendOption(config, 'scheduler', SCHEDULERS, 'rr'),
    nodePortIPs: nodePortIPs(config) ?? config.nodeIPs,
    clusterCIDRs: config.clusterCIDRs,
  };
}
