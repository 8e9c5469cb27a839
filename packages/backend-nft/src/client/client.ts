import type { NftFamily, NftTransaction } from './transaction.js';

/** Names of the objects in one of kplane's tables, as the kernel holds them. */
export interface TableContents {
  readonly chains: ReadonlySet<string>;
  readonly sets: ReadonlySet<string>;
  readonly maps: ReadonlySet<string>;
}

/** The small interface the backend needs from nftables (knftables' Interface). */
export interface NftClient {
  /** Applies one transaction atomically: all of it or nothing. */
  run(transaction: NftTransaction): Promise<void>;
  /** Names in kplane's table of one family (no elements), or null when the table does not exist. */
  list(family: NftFamily, table: string): Promise<TableContents | null>;
}
