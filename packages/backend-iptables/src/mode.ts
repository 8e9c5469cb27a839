import type { IPFamily } from '@kplane/core';
import { FAMILIES, MODES, type IptablesClient, type Mode } from './client/client.js';

/** Chains kubelet and kube-proxy leave in the variant the node uses. */
const HINT_CHAINS = [':KUBE-IPTABLES-HINT ', ':KUBE-KUBELET-CANARY '];

/**
 * Picks the iptables variant the node already uses, as kube-proxy's iptables-wrapper does: the
 * variant holding kubelet's hint chains; else the one with more rules (both IP families); nft on a tie.
 */
export async function detectMode(client: IptablesClient): Promise<Mode> {
  for (const mode of MODES) {
    const mangle = await Promise.all(FAMILIES.map((family) => quietSave(client, mode, family, 'mangle')));
    if (mangle.some((text) => HINT_CHAINS.some((hint) => text.includes(hint)))) return mode;
  }
  const [nft, legacy] = await Promise.all(MODES.map(async (mode) => {
    const saved = await Promise.all(FAMILIES.map((family) => quietSave(client, mode, family)));
    return saved.join('\n').split('\n').filter((line) => line.startsWith('-')).length;
  }));
  return legacy! > nft! ? 'legacy' : 'nft';
}

/** A variant whose tool is missing or whose tables are absent simply counts as empty. */
async function quietSave(client: IptablesClient, mode: Mode, family: IPFamily, table?: string): Promise<string> {
  try {
    return await client.save(mode, family, table);
  } catch {
    return '';
  }
}
