import { NftMonitor, ToolError, type ChangeMonitor, type Executor } from '@kplane/core';
import type { NftClient, TableContents } from './client.js';
import { parseListing, parseTables, tableContents, type TableListing } from './listing.js';
import type { NftFamily, NftTransaction } from './transaction.js';

/** The real client: `nft -f -` through core's executor (so `kplane plan` records it). */
export class ExecNftClient implements NftClient {
  constructor(private readonly executor: Executor) {}

  async run(transaction: NftTransaction): Promise<void> {
    const input = transaction.toString();
    if (input) await this.executor.apply({ tool: 'nft', args: ['-f', '-'], input });
  }

  async list(family: NftFamily, table: string): Promise<TableContents | null> {
    // -t (terse) leaves out set elements: cheap even with 50K services.
    const listing = await this.listTable(family, table, { terse: true });
    return listing && tableContents(listing);
  }

  async listNames(table: string): Promise<Record<NftFamily, TableListing | null>> {
    const [chains, sets, maps] = await Promise.all([['list', 'chains'], ['-t', 'list', 'sets'], ['-t', 'list', 'maps']].map(async (args) =>
      parseTables(await this.executor.read({ tool: 'nft', args }), { rules: false, elements: false })));
    const of = (family: NftFamily): TableListing | null => {
      const id = `${family} ${table}`;
      if (!chains!.has(id) && !sets!.has(id) && !maps!.has(id)) return null;
      return {
        chains: chains!.get(id)?.chains ?? new Map(),
        sets: new Map([...(sets!.get(id)?.sets ?? []), ...(maps!.get(id)?.sets ?? [])]),
      };
    };
    return { ip: of('ip'), ip6: of('ip6') };
  }

  listTable(family: NftFamily, table: string, { terse }: { readonly terse: boolean }): Promise<TableListing | null> {
    return this.read([...(terse ? ['-t'] : []), 'list', 'table', family, table], !terse);
  }

  /** `nft monitor` (core's NftMonitor): a line such as `delete element ip kplane endpoints-tcp-g3 { … }` names the table third. */
  watchChanges(table: string): ChangeMonitor {
    const ours = new RegExp(`^\\S+ \\S+ ip6? ${table}(?: |$)`);
    const monitor = new NftMonitor(this.executor, (line) => ours.test(line));
    monitor.start();
    return monitor;
  }

  /** A listing, or null when what it names does not exist. */
  private async read(args: string[], withElements: boolean): Promise<TableListing | null> {
    let text: string;
    try {
      text = await this.executor.read({ tool: 'nft', args });
    } catch (error) {
      if (error instanceof ToolError && /No such file or directory/.test(error.stderr)) return null;
      throw error;
    }
    return text.trim() === '' ? null : parseListing(text, withElements);
  }
}
