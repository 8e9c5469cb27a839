import { removeForwardAccept, ToolError, type Executor } from '@kplane/core';
import { iptablesTool, JUMPS, jumpRule } from './iptables-rules.js';
import { jumpCount, listRules, ownChains, type RuleListing } from './iptables-listing.js';
import { listKernel, ownedState } from './kernel-state.js';
import { DUMMY_INTERFACE } from './names.js';
import { FAMILIES } from './sets.js';

/**
 * Removes everything the ipvs backend wrote, found in the kernel by its marks (no saved state):
 * the jumps (by their comment) and `KPLANE-IPVS-` chains, the virtual services whose address is on
 * kplane-ipvs0 or that kplane's frontend sets record, the dummy interface, the `kplane-ipvs` sets,
 * and core's FORWARD accept rule. Chains go before the sets they match on.
 */
export async function removeIpvsObjects(executor: Executor): Promise<void> {
  for (const family of FAMILIES) {
    const listing = await listRules(executor, family).catch((error: unknown) => {
      if (error instanceof ToolError) return null;
      throw error;
    });
    const input = listing && iptablesCleanup(listing);
    if (input) await executor.apply({ tool: `${iptablesTool(family)}-restore`, args: ['--noflush', '-w', '5'], input });
  }
  const listing = await listKernel(executor);
  const kernel = ownedState(listing, new Map(), () => false);
  const services = [...kernel.services.keys()].sort().map((key) => `-D ${key}\n`).join('');
  if (services) await executor.apply({ tool: 'ipvsadm', args: ['-R'], input: services, failOnStderr: true });
  if (kernel.dummy) await executor.apply({ tool: 'ip', args: ['-batch', '-'], input: `link del ${DUMMY_INTERFACE}\n` });
  const sets = [...listing.sets.keys()].sort().map((name) => `destroy ${name}\n`).join('');
  if (sets) await executor.apply({ tool: 'ipset', args: ['restore'], input: sets });
  await removeForwardAccept(executor);
}

/** `iptables-restore --noflush` input that deletes the jumps, then flushes and deletes kplane's chains. */
function iptablesCleanup(listing: RuleListing): string {
  const lines: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const jumps = JUMPS.filter((jump) => jump.table === table).flatMap((jump) => Array.from({ length: jumpCount(listing, jump) }, () => `-D ${jump.chain} ${jumpRule(jump)}`));
    const chains = [...ownChains(listing, table).keys()];
    if (jumps.length + chains.length === 0) continue;
    lines.push(`*${table}`, ...jumps, ...chains.map((chain) => `:${chain} - [0:0]`), ...chains.map((chain) => `-X ${chain}`), 'COMMIT');
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
