import { ToolError, type Executor } from '@kplane/core';
import type { NftClient, TableContents } from './client.js';
import type { NftFamily, NftTransaction } from './transaction.js';

/** The real client: `nft -f -` through core's executor (so `kplane plan` records it). */
export class ExecNftClient implements NftClient {
  constructor(private readonly executor: Executor) {}

  async run(transaction: NftTransaction): Promise<void> {
    const input = transaction.toString();
    if (input) await this.executor.apply({ tool: 'nft', args: ['-f', '-'], input });
  }

  async list(family: NftFamily, table: string): Promise<TableContents | null> {
    let listing: string;
    try {
      // -t (terse) leaves out set elements: cheap even with 50K services.
      listing = await this.executor.read({ tool: 'nft', args: ['-t', 'list', 'table', family, table] });
    } catch (error) {
      if (error instanceof ToolError && /No such file or directory/.test(error.stderr)) return null;
      throw error;
    }
    const names = { chain: new Set<string>(), set: new Set<string>(), map: new Set<string>() };
    for (const match of listing.matchAll(/^\s*(chain|set|map) (\S+) \{/gm)) names[match[1] as 'chain' | 'set' | 'map'].add(match[2]!);
    return listing.trim() === '' ? null : { chains: names.chain, sets: names.set, maps: names.map };
  }
}
