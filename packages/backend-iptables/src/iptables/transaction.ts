export type Table = 'nat' | 'filter';

export const TABLES: readonly Table[] = ['nat', 'filter'];

/** Rules of one chain, each as iptables-restore reads it after `-A <chain> `. */
export type Rules = readonly string[];

interface TableEdit {
  readonly written: Map<string, Rules>;
  readonly deleted: Set<string>;
  readonly inserted: { chain: string; rule: string }[];
  readonly removed: { chain: string; rule: string }[];
}

/**
 * One `iptables-restore --noflush` input for one IP family, as a value: `toString()` is exactly the
 * text sent. Writing a chain declares it, which creates it or flushes it, then appends its rules;
 * deleting a chain flushes it first, so chains that point at each other can go in one transaction.
 * Order inside a table: declarations, rule deletions in built-in chains, appends, insertions, chain deletions.
 */
export class Transaction {
  private readonly tables = new Map<Table, TableEdit>();

  writeChain(table: Table, chain: string, rules: Rules): this {
    this.edit(table).written.set(chain, rules);
    return this;
  }

  deleteChain(table: Table, chain: string): this {
    const edit = this.edit(table);
    edit.written.delete(chain);
    edit.deleted.add(chain);
    return this;
  }

  /** Inserts a rule at the head of a built-in chain. */
  insertRule(table: Table, chain: string, rule: string): this {
    this.edit(table).inserted.push({ chain, rule });
    return this;
  }

  /** Deletes a rule from a built-in chain, given as iptables-save prints it. */
  deleteRule(table: Table, chain: string, rule: string): this {
    this.edit(table).removed.push({ chain, rule });
    return this;
  }

  get empty(): boolean {
    return this.tables.size === 0;
  }

  /** Chains written, per table (what the model of the kernel becomes once the restore succeeds). */
  written(table: Table): ReadonlyMap<string, Rules> {
    return this.tables.get(table)?.written ?? new Map();
  }

  deleted(table: Table): ReadonlySet<string> {
    return this.tables.get(table)?.deleted ?? new Set();
  }

  toString(): string {
    const lines: string[] = [];
    for (const table of TABLES) {
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

  private edit(table: Table): TableEdit {
    let edit = this.tables.get(table);
    if (!edit) {
      edit = { written: new Map(), deleted: new Set(), inserted: [], removed: [] };
      this.tables.set(table, edit);
    }
    return edit;
  }
}
