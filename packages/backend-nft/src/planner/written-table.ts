import type { ServicePortKey } from '@kplane/core';
import type { TableContents } from '../nft/nft-client.js';
import { isAffinityObject, type Contribution, type Element, type NamedChain, type NamedSet } from './contribution.js';
import { generationOf } from './layout.js';

interface Claim {
  readonly owner: ServicePortKey;
  readonly value: string | undefined;
}

/** What an element looks like in the kernel: absent, or present with a value (undefined for plain sets). */
export type KernelElement = { readonly value: string | undefined } | null;

/**
 * kplane's model of what it has written to one family's table. Partial syncs are planned against it,
 * never against a listing of the kernel. Elements are claimed by service ports: several ports may
 * want the same element (a cluster IP shared by ports); the kernel holds the first claim's value,
 * and the element goes when its last claim does.
 */
export class WrittenTable {
  generation = 0;
  readonly contributions = new Map<ServicePortKey, Contribution>();
  readonly claims = new Map<string, readonly Claim[]>();
  /** Pick chains in the kernel (`kind:count`) and how many verdicts jump to each. */
  readonly pickRefs = new Map<string, number>();
  /** Affinity chains and sets in the kernel, with the rules and specs they were written with. */
  readonly affinityChains = new Map<string, readonly string[]>();
  readonly affinitySets = new Map<string, string>();
  /** Generation objects an earlier run left in the kernel (found at start-up), for the first full sync to remove. */
  leftover: TableContents | null = null;

  /** The model of a table found in the kernel at start-up: names only, which is all a full sync needs. */
  static fromKernel(contents: TableContents | null): WrittenTable {
    const table = new WrittenTable();
    if (!contents) return table;
    const names = [...contents.chains, ...contents.sets, ...contents.maps];
    table.generation = Math.max(0, ...names.map((name) => generationOf(name) ?? 0));
    table.leftover = contents;
    for (const name of contents.chains) if (isAffinityObject(name)) table.affinityChains.set(name, []);
    for (const name of contents.sets) if (isAffinityObject(name)) table.affinitySets.set(name, '');
    return table;
  }

  kernelElement(id: string): KernelElement {
    const claims = this.claims.get(id);
    return claims && claims.length > 0 ? { value: claims[0]!.value } : null;
  }
}

export function elementId(element: Pick<Element, 'set' | 'key'>): string {
  return `${element.set}\u0000${element.key}`;
}

/**
 * Changes to a WrittenTable, staged while a sync is planned and committed only once the kernel has
 * accepted the transaction: a refused sync leaves the model describing the kernel as it still is.
 */
export class TableDraft {
  private readonly contributions = new Map<ServicePortKey, Contribution | null>();
  private readonly claims = new Map<string, readonly Claim[]>();
  private readonly pickRefs = new Map<string, number>();
  private readonly affinityChains = new Map<string, readonly string[] | null>();
  private readonly affinitySets = new Map<string, string | null>();
  /** Elements touched, by id, with the set and key they stand for. */
  readonly touched = new Map<string, Element>();
  readonly touchedPicks = new Set<string>();

  constructor(readonly table: WrittenTable) {}

  contribution(key: ServicePortKey): Contribution | undefined {
    const staged = this.contributions.get(key);
    return staged === null ? undefined : staged ?? this.table.contributions.get(key);
  }

  /** Replaces what one service port contributes. */
  replace(key: ServicePortKey, next: Contribution | undefined): void {
    const previous = this.contribution(key);
    for (const element of previous?.elements ?? []) this.release(key, element);
    for (const element of next?.elements ?? []) this.claim(key, element);
    for (const pick of previous?.picks ?? []) this.countPick(pick, -1);
    for (const pick of next?.picks ?? []) this.countPick(pick, +1);
    for (const chain of previous?.affinity.chains ?? []) this.affinityChains.set(chain.name, null);
    for (const set of previous?.affinity.sets ?? []) this.affinitySets.set(set.name, null);
    for (const chain of next?.affinity.chains ?? []) this.affinityChains.set(chain.name, chain.rules);
    for (const set of next?.affinity.sets ?? []) this.affinitySets.set(set.name, set.spec);
    this.contributions.set(key, next ?? null);
  }

  kernelElement(id: string): KernelElement {
    const claims = this.claims.get(id) ?? this.table.claims.get(id);
    return claims && claims.length > 0 ? { value: claims[0]!.value } : null;
  }

  pickCount(pick: string): number {
    return this.pickRefs.get(pick) ?? this.table.pickRefs.get(pick) ?? 0;
  }

  /** Affinity chains and sets that change: created or rewritten (`next` set), or removed (`next` null). */
  affinityChanges(): { chains: { chain: NamedChain; existed: boolean }[]; removedChains: string[]; sets: NamedSet[]; removedSets: string[] } {
    const chains: { chain: NamedChain; existed: boolean }[] = [];
    const removedChains: string[] = [];
    for (const [name, rules] of this.affinityChains) {
      const written = this.table.affinityChains.get(name);
      if (rules === null) {
        if (written) removedChains.push(name);
      } else if (!written || written.join('\n') !== rules.join('\n')) {
        chains.push({ chain: { name, rules }, existed: written !== undefined });
      }
    }
    const sets: NamedSet[] = [];
    const removedSets: string[] = [];
    for (const [name, spec] of this.affinitySets) {
      const written = this.table.affinitySets.get(name);
      if (spec === null && written !== undefined) removedSets.push(name);
      else if (spec !== null && written === undefined) sets.push({ name, spec });
    }
    return { chains, removedChains, sets, removedSets };
  }

  commit(): void {
    const table = this.table;
    for (const [key, contribution] of this.contributions) {
      if (contribution) table.contributions.set(key, contribution);
      else table.contributions.delete(key);
    }
    for (const [id, claims] of this.claims) {
      if (claims.length > 0) table.claims.set(id, claims);
      else table.claims.delete(id);
    }
    for (const [pick, count] of this.pickRefs) {
      if (count > 0) table.pickRefs.set(pick, count);
      else table.pickRefs.delete(pick);
    }
    for (const [name, rules] of this.affinityChains) {
      if (rules) table.affinityChains.set(name, rules);
      else table.affinityChains.delete(name);
    }
    for (const [name, spec] of this.affinitySets) {
      if (spec !== null) table.affinitySets.set(name, spec);
      else table.affinitySets.delete(name);
    }
  }

  private claim(owner: ServicePortKey, element: Element): void {
    const id = elementId(element);
    this.touched.set(id, element);
    this.claims.set(id, [...(this.claims.get(id) ?? this.table.claims.get(id) ?? []), { owner, value: element.value }]);
  }

  private release(owner: ServicePortKey, element: Element): void {
    const id = elementId(element);
    this.touched.set(id, element);
    this.claims.set(id, (this.claims.get(id) ?? this.table.claims.get(id) ?? []).filter((claim) => claim.owner !== owner));
  }

  private countPick(pick: string, delta: number): void {
    this.touchedPicks.add(pick);
    this.pickRefs.set(pick, this.pickCount(pick) + delta);
  }
}
