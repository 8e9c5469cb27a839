import { IPTABLES_TABLES, type IPFamily, type IptablesRules, type IptablesTable } from '@kplane/core';
import type { IpvsClient } from '../client/client.js';
import { jumpRule, type Jump } from '../planner/iptables-rules.js';
import { CHAIN_PREFIX } from '../planner/names.js';

/** `iptables -S` lines per table. */
export type RuleListing = ReadonlyMap<IptablesTable, readonly string[]>;

/** `iptables -S` of the nat and filter tables: read at full syncs and cleanup only. */
export async function listRules(client: IpvsClient, family: IPFamily): Promise<RuleListing> {
  const tables = new Map<IptablesTable, string[]>();
  for (const table of IPTABLES_TABLES) tables.set(table, (await client.listRules(family, table)).split('\n').map((line) => line.trim()));
  return tables;
}

/** How many times a jump is in its built-in chain. */
export function jumpCount(listing: RuleListing, jump: Jump): number {
  const rule = `-A ${jump.chain} ${jumpRule(jump)}`;
  return (listing.get(jump.table) ?? []).filter((line) => line === rule).length;
}

/** This backend's chains in a table, with their rules (each after its `-A <chain> `). */
export function ownChains(listing: RuleListing, table: IptablesTable): Map<string, IptablesRules> {
  const chains = new Map<string, string[]>();
  for (const line of listing.get(table) ?? []) {
    const [command, chain = ''] = line.split(' ');
    if (!chain.startsWith(CHAIN_PREFIX)) continue;
    const rules = chains.get(chain) ?? [];
    chains.set(chain, rules);
    if (command === '-A') rules.push(line.slice(`-A ${chain} `.length));
  }
  return chains;
}
