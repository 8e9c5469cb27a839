import { IPTABLES_TABLES, type IptablesTable } from '@kplane/core';
import { ruleTarget, tokenize } from './rule-text.js';

/** Every chain kplane owns starts with this; nothing else it writes is a chain. */
const OWN_PREFIX = 'KPLANE-';

/** Built-in chains of the tables kplane writes: the only places outside its own chains where it puts rules. */
const BUILTIN: Readonly<Record<IptablesTable, readonly string[]>> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** A rule in a built-in chain that jumps into one of kplane's chains: one of its hooks. */
export interface Hook {
  readonly table: IptablesTable;
  readonly chain: string;
  /** As iptables-save prints it after `-A <chain> `: what `-D <chain> <rule>` removes. */
  readonly rule: string;
  readonly target: string;
}

/** What the kernel holds of kplane's, read once at start-up and before full syncs (never on the partial-sync path). */
export interface KernelAudit {
  readonly chains: ReadonlyMap<IptablesTable, ReadonlySet<string>>;
  readonly hooks: readonly Hook[];
}

/** What iptables-save output holds of kplane's: its chains and its hooks. */
export function parseSave(text: string): KernelAudit {
  const chains = new Map<IptablesTable, Set<string>>();
  const hooks: Hook[] = [];
  let table: IptablesTable | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      const name = line.slice(1).trim();
      table = (IPTABLES_TABLES as readonly string[]).includes(name) ? (name as IptablesTable) : null;
    } else if (table && line.startsWith(`:${OWN_PREFIX}`)) {
      const chain = line.slice(1).split(' ')[0]!;
      chains.set(table, (chains.get(table) ?? new Set()).add(chain));
    } else if (table && line.startsWith('-A ')) {
      const [, chain, ...words] = tokenize(line);
      const target = ruleTarget(words);
      if (chain && BUILTIN[table].includes(chain) && target?.startsWith(OWN_PREFIX)) {
        hooks.push({ table, chain, rule: line.slice(line.indexOf(chain) + chain.length + 1), target });
      }
    }
  }
  return { chains, hooks };
}
