import type { IptablesTransaction } from '@kplane/core';

/** Restores to send in order (one, except for a full sync split by its line budget), and what records them in the model once the kernel took them all. */
export interface Plan {
  readonly transactions: readonly IptablesTransaction[];
  commit(): void;
}
