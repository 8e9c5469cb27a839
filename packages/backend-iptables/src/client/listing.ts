import { IPTABLES_TABLES, type IptablesTable } from '@kplane/core';

/** The rules of each chain, as printed after `-A <chain> `. */
export type ChainListing = Map<string, string[]>;

/** `iptables -S <chain>` output → that chain's rules. */
export function listedRules(text: string, chain: string): string[] {
  const prefix = `-A ${chain} `;
  return text.split('\n').filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length));
}

/** iptables-save output → the rules of every chain of each table kplane writes (a declared chain without rules: []). */
export function savedRules(text: string): Map<IptablesTable, ChainListing> {
  const tables = new Map<IptablesTable, ChainListing>();
  let chains: ChainListing | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      const name = line.slice(1).trim() as IptablesTable;
      chains = IPTABLES_TABLES.includes(name) ? new Map() : null;
      if (chains) tables.set(name, chains);
    } else if (chains && line.startsWith(':')) {
      chains.set(line.slice(1, line.indexOf(' ')), []);
    } else if (chains && line.startsWith('-A ')) {
      const chain = line.slice(3, line.indexOf(' ', 3));
      chains.get(chain)?.push(line.slice(4 + chain.length));
    }
  }
  return tables;
}
