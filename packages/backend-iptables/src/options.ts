import { backendNumberOption, backendOption, type ProxyConfig } from '@kplane/core';
import type { Mode } from './client/client.js';

export type Layout = 'tree' | 'flat';

/** `--backend-opt` values of the iptables backend, validated. */
export interface IptablesOptions {
  /** `tree` (prefix tree of chains, O(log N) matching and updates) or `flat` (kube-proxy's one rule per service, the baseline). */
  readonly layout: Layout;
  /** iptables variant, or null to detect it like kube-proxy does. */
  readonly mode: Mode | null;
  /** Most destinations a leaf chain of the tree holds (Infinity for `flat`). */
  readonly leafSize: number;
  /** Mark bit of packets to drop (kube-proxy's --iptables-drop-bit), and of packets to reject. */
  readonly dropBit: number;
  readonly rejectBit: number;
}

/**
 * Leaf size by measurement (scripts/measure.ts, 20,000 services, iptables-nft): first-packet cost
 * and single-change cost are both flat between 16 and 64; 32 keeps leaves and paths short.
 */
export const DEFAULT_LEAF_SIZE = 32;

export function readOptions(config: ProxyConfig): IptablesOptions {
  const layout = backendOption(config, 'layout', ['tree', 'flat'], 'tree');
  const mode = backendOption(config, 'mode', ['auto', 'nft', 'legacy'], 'auto');
  const leafSize = backendNumberOption(config, 'leaf-size', 4, 4096, DEFAULT_LEAF_SIZE);
  const dropBit = backendNumberOption(config, 'drop-bit', 0, 31, 15);
  const rejectBit = backendNumberOption(config, 'reject-bit', 0, 31, 13);
  if (new Set([config.masqueradeBit, dropBit, rejectBit]).size !== 3) {
    throw new Error(`--masquerade-bit ${config.masqueradeBit}, --backend-opt drop-bit=${dropBit} and reject-bit=${rejectBit} must be three different bits`);
  }
  return { layout, mode: mode === 'auto' ? null : mode, leafSize: layout === 'flat' ? Infinity : leafSize, dropBit, rejectBit };
}
