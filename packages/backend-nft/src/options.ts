import { backendNumberOption, type ProxyConfig } from '@kplane/core';

/** The `--backend-opt` keys the nft backend reads. */
export const OPTION_KEYS = ['transaction-elements', 'parallel-transactions'] as const;

/** Elements per transaction in a full sync: big enough to be fast, small enough to keep each commit short. */
const DEFAULT_TRANSACTION_ELEMENTS = 50_000;
/**
 * Element transactions of a split full sync run side by side, by default one per CPU up to this:
 * `nft` spends most of its time parsing and evaluating in userspace, one core each (measured: 140K
 * elements, 0.94 s one after the other, 0.54 s two at a time on 2 cores).
 */
const MOST_PARALLEL_BY_DEFAULT = 4;

export interface NftOptions {
  readonly transactionElements: number;
  /** Undefined: one per CPU (up to 4), known once the backend has asked the host. */
  readonly parallelTransactions: number | undefined;
}

export function nftOptions(config: ProxyConfig): NftOptions {
  const parallel = backendNumberOption(config, 'parallel-transactions', 1, 64, 0);
  return {
    transactionElements: backendNumberOption(config, 'transaction-elements', 1000, 10_000_000, DEFAULT_TRANSACTION_ELEMENTS),
    parallelTransactions: parallel === 0 ? undefined : parallel,
  };
}

/** The default parallelism from `nproc`'s answer (1 when there is none, as in a dry run). */
export function defaultParallelTransactions(nproc: string): number {
  const cpus = Number.parseInt(nproc, 10);
  return Number.isInteger(cpus) && cpus > 0 ? Math.min(MOST_PARALLEL_BY_DEFAULT, cpus) : 1;
}
