import type { Executor, IPFamily } from '@kplane/core';
import { iptablesTool, jumpRule, type Jump, type Table } from './iptables-rules.js';
import { CHAIN_PREFIX } from './names.js';

/** `iptables -S` lines per table. */
export type RuleListing = ReadonlyMap<Table, readonly string[]>;

/** `iptables -S` of the nat and filter tables: read at full syncs and cleanup only. */
export async function listRules(executor: Executor, family: IPFamily): Promise<RuleListing> {
  const tables = new Map<Table, string[]>();
  for (const table of ['nat', 'filter'] as const) {
    tables.set(table, (await executor.read({ tool: iptablesTool(family), args: ['-w', '5', '-t', table, '-S'] })).split('\n').map((line) => line.trim()));
  }
  return tables;
}

/** How many times a jump is in its built-in chain. */
export function jumpCount(listing: RuleListing, jump: Jump): number {
  const rule = `-A ${jump.chain} ${jumpRule(jump)}`;
  return (listing.get(jump.table) ?? []).filter((line) => line === rule).length;
}

/** This backend's chains in a table, with their rules. */
export function ownChains(listing: RuleListing, table: Table): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  for (const line of listing.get(table) ?? []) {
    const [command, chain = ''] = line.split(' ');
    if (!chain.startsWith(CHAIN_PREFIX)) continue;
    const rules = chains.get(chain) ?? [];
    chains.set(chain, rules);
    if (command === '-A') rules.push(line);
  }
  return chains;
}
