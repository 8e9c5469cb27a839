import type { NftElement, NftTransaction } from '../client/transaction.js';

/**
 * What a planner returns. `stages` run in order; the transactions of one stage touch nothing the
 * others of that stage do, so they may run side by side. `commit()` makes the backend's model
 * describe the kernel after the plan: call it only once the kernel has accepted every transaction.
 */
export interface NftPlan {
  readonly stages: readonly (readonly NftTransaction[])[];
  commit(): void;
}

/** Elements grouped by set, so that each set gets one command. */
export class ElementsBySet extends Map<string, NftElement[]> {
  push(set: string, element: NftElement): void {
    const list = this.get(set);
    if (list) list.push(element);
    else this.set(set, [element]);
  }
}
