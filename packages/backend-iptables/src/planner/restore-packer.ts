import { IptablesTransaction, type IptablesTable } from '@kplane/core';

/**
 * Packs restore work, in order, into transactions of at most `budget` lines (a unit larger than
 * the budget goes alone): how a large full sync or cleanup goes to iptables-nft, whose restore
 * slows down superlinearly with its input. Infinity: one transaction.
 */
export class RestorePacker {
  private readonly done: IptablesTransaction[] = [];
  private current = new IptablesTransaction();
  private lines = 0;

  constructor(private readonly budget: number) {}

  add(lines: number, work: (transaction: IptablesTransaction) => void): void {
    if (this.lines > 0 && this.lines + lines > this.budget) {
      this.done.push(this.current);
      this.current = new IptablesTransaction();
      this.lines = 0;
    }
    work(this.current);
    this.lines += lines;
  }

  /** Flushes all the chains first, then deletes them: no chain still jumps to another when it goes, whatever the split. */
  removeChains(chains: readonly { table: IptablesTable; chain: string }[]): void {
    for (const { table, chain } of chains) this.add(1, (transaction) => transaction.writeChain(table, chain, []));
    for (const { table, chain } of chains) this.add(2, (transaction) => transaction.deleteChain(table, chain));
  }

  transactions(): IptablesTransaction[] {
    return this.current.empty ? this.done : [...this.done, this.current];
  }
}
