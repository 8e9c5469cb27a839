import type { IPFamily } from '../model/service-port.js';

export type IptablesTable = 'nat' | 'filter';

/** The command of one IP family: `iptables` or `ip6tables` (the tools' variants add a suffix). */
export function iptablesCommand(family: IPFamily): 'iptables' | 'ip6tables' {
  return family === 4 ? 'iptables' : 'ip6tables';
}

export const IPTABLES_TABLES: readonly IptablesTable[] = ['nat', 'filter'];

/** The rules of one chain, each as iptables-restore reads it after `-A <chain> `. */
export type IptablesRules = readonly string[];

interface TableEdit {
  readonly written: Map<string, IptablesRules>;
  readonly deleted: Set<string>;
  readonly inserted: { chain: string; rule: string }[];
  readonly removed: { chain: string; rule: string }[];
}

/**
 * One `iptables-restore --noflush` input for one IP family, as a value (the iptables backend's and
 * the ipvs backend's rules are both written with it): `toString()` is exactly the
 * text sent. Writing a chain declares it, which creates it or flushes it, then appends its rules;
 * deleting a chain flushes it first, so chains that point at each other can go in one transaction.
 * Order inside a table: declarations, rule deletions in built-in chains, appends, insertions, chain deletions.
 */
export class IptablesTransaction {
  private readonly tables = new Map<IptablesTable, TableEdit>();

  writeChain(table: IptablesTable, chain: string, rules: IptablesRules): this {
    this.edit(table).written.set(chain, rules);
    return this;
  }

  deleteChain(table: IptablesTable, chain: string): this {
    const edit = this.edit(table);
    edit.written.delete(chain);
    edit.deleted.add(chain);
    return this;
  }

  /** Inserts a rule at the head of a built-in chain. */
  insertRule(table: IptablesTable, chain: string, rule: string): this {
    this.edit(table).inserted.push({ chain, rule });
    return this;
  }

  /** Deletes a rule from a built-in chain, given as iptables-save prints it. */
  deleteRule(table: IptablesTable, chain: string, rule: string): this {
    this.edit(table).removed.push({ chain, rule });
    return this;
  }

  get empty(): boolean {
    return this.tables.size === 0;
  }

  /** Chains written, per table (what the model of the kernel becomes once the restore succeeds). */
  written(table: IptablesTable): ReadonlyMap<string, IptablesRules> {
    return this.tables.get(table)?.written ?? new Map();
  }

  deleted(table: IptablesTable): ReadonlySet<string> {
    return this.tables.get(table)?.deleted ?? new Set();
  }

  toString(): string {
    const lines: string[] = [];
    for (const table of IPTABLES_TABLES) {
      const edit = this.tables.get(table);
      if (!edit) continue;
      lines.push(`*${table}`);
      for (const chain of [...edit.written.keys(), ...edit.deleted]) lines.push(`:${chain} - [0:0]`);
      for (const { chain, rule } of edit.removed) lines.push(`-D ${chain} ${rule}`);
      for (const [chain, rules] of edit.written) for (const rule of rules) lines.push(`-A ${chain} ${rule}`);
      for (const { chain, rule } of edit.inserted) lines.push(`-I ${chain} ${rule}`);
      for (const chain of edit.deleted) lines.push(`-X ${chain}`);
      lines.push('COMMIT');
    }
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }

  private edit(table: IptablesTable): TableEdit {
    let edit = this.tables.get(table);
    if (!edit) {
      edit = { written: new Map(), deleted: new Set(), inserted: [], removed: [] };
      this.tables.set(table, edit);
    }
    return edit;
  }
}
