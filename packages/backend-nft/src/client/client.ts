import type { TableListing } from './listing.js';
import type { ChangeMonitor } from '@kplane/core';
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
  /**
   * Both families' kplane tables as `nft list chains`, `nft -t list sets` and `nft -t list maps` show
   * them: chains with their hooks but no rules, sets and maps without elements; null for a table
   * that does not exist. Tens of milliseconds at any size (a listing of rules is not: nft 1.0.6
   * loads every element of the table for it). For the drift audit.
   */
  listNames(table: string): Promise<Record<NftFamily, TableListing | null>>;
  /**
   * kplane's table of one family with its chains' rules and its sets: with every element, or none
   * (`terse`: `nft -t`, cheap at any size); null when the table does not exist. For the drift audit.
   */
  listTable(family: NftFamily, table: string, options: { readonly terse: boolean }): Promise<TableListing | null>;
  /** Starts watching for changes to kplane's table (both families) by other processes, between audits. */
  watchChanges(table: string): ChangeMonitor;
}
