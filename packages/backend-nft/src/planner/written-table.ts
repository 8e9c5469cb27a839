import type { ServicePortKey } from '@kplane/core';
import type { TableContents } from '../nft/nft-client.js';
import { isAffinityObject, type Contribution, type Element, type NamedChain, type NamedSet } from './contribution.js';
import { generationOf } from './layout.js';

/**
 * The service ports that want an element, by set then key: one port (nearly always), or several in
 * claim order. The first one's contribution says the element's value in the kernel. Owners, not
 * values, are stored: the strings are shared with the contributions, so the model costs little more
 * than the Map entries.
 */
type Owners = ServicePortKey | readonly ServicePortKey[];
type Claims = Map<string, Map<string, Owners>>;

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
  readonly claims: Claims = new Map();
  /** Pick chains in the kernel (`kind:protocol:count`) and how many verdicts jump to each. */
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

  /**
   * A model built in one go from every port's contribution (what a full sync writes). `written`
   * receives each element as the kernel will hold it: the first claim on it.
   */
  static build(generation: number, contributions: Iterable<[ServicePortKey, Contribution]>, written: (element: Element) => void): WrittenTable {
    const table = new WrittenTable();
    table.generation = generation;
    for (const [key, contribution] of contributions) {
      table.contributions.set(key, contribution);
      for (const element of contribution.elements) {
        const keys = setClaims(table.claims, element.set);
        const owners = keys.get(element.key);
        if (owners === undefined) {
          keys.set(element.key, key);
          written(element);
        } else {
          keys.set(element.key, [...ownerList(owners), key]);
        }
      }
      for (const pick of contribution.picks) table.pickRefs.set(pick, (table.pickRefs.get(pick) ?? 0) + 1);
      for (const chain of contribution.affinity.chains) table.affinityChains.set(chain.name, chain.rules);
      for (const set of contribution.affinity.sets) table.affinitySets.set(set.name, set.spec);
    }
    return table;
  }

  kernelElement(set: string, key: string): KernelElement {
    const owners = this.claims.get(set)?.get(key);
    return owners === undefined ? null : { value: valueOf(this.contributions.get(firstOwner(owners)), set, key) };
  }
}

/**
 * Changes to a WrittenTable, staged while a sync is planned and committed only once the kernel has
 * accepted the transaction: a refused sync leaves the model describing the kernel as it still is.
 */
export class TableDraft {
  private readonly contributions = new Map<ServicePortKey, Contribution | null>();
  /** Staged owners of touched elements (empty: the element goes). */
  private readonly claims = new Map<string, Map<string, readonly ServicePortKey[]>>();
  private readonly pickRefs = new Map<string, number>();
  private readonly affinityChains = new Map<string, readonly string[] | null>();
  private readonly affinitySets = new Map<string, string | null>();
  readonly touchedPicks = new Set<string>();

  constructor(readonly table: WrittenTable) {}

  contribution(key: ServicePortKey): Contribution | undefined {
    const staged = this.contributions.get(key);
    return staged === null ? undefined : staged ?? this.table.contributions.get(key);
  }

  /** Replaces what one service port contributes. */
  replace(key: ServicePortKey, next: Contribution | undefined): void {
    const previous = this.contribution(key);
    for (const element of previous?.elements ?? []) this.stage(element, this.ownersOf(element).filter((owner) => owner !== key));
    for (const element of next?.elements ?? []) this.stage(element, [...this.ownersOf(element), key]);
    for (const pick of previous?.picks ?? []) this.countPick(pick, -1);
    for (const pick of next?.picks ?? []) this.countPick(pick, +1);
    for (const chain of previous?.affinity.chains ?? []) this.affinityChains.set(chain.name, null);
    for (const set of previous?.affinity.sets ?? []) this.affinitySets.set(set.name, null);
    for (const chain of next?.affinity.chains ?? []) this.affinityChains.set(chain.name, chain.rules);
    for (const set of next?.affinity.sets ?? []) this.affinitySets.set(set.name, set.spec);
    this.contributions.set(key, next ?? null);
  }

  /** Elements whose kernel state changes: `before` and `after` as the kernel holds them. */
  *elementChanges(): Generator<{ set: string; key: string; before: KernelElement; after: KernelElement }> {
    for (const [set, keys] of this.claims) {
      for (const [key, owners] of keys) {
        const before = this.table.kernelElement(set, key);
        const after = owners.length === 0 ? null : { value: valueOf(this.contribution(firstOwner(owners)), set, key) };
        if (before?.value !== after?.value || (before === null) !== (after === null)) yield { set, key, before, after };
      }
    }
  }

  pickCount(pick: string): number {
    return this.pickRefs.get(pick) ?? this.table.pickRefs.get(pick) ?? 0;
  }

  /** Affinity chains and sets that change: created or rewritten, or removed. */
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
    for (const [set, keys] of this.claims) {
      const written = setClaims(table.claims, set);
      for (const [key, owners] of keys) {
        if (owners.length === 0) written.delete(key);
        else written.set(key, owners.length === 1 ? owners[0]! : owners);
      }
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

  private ownersOf(element: Element): readonly ServicePortKey[] {
    const staged = this.claims.get(element.set)?.get(element.key);
    if (staged) return staged;
    const written = this.table.claims.get(element.set)?.get(element.key);
    return written === undefined ? [] : ownerList(written);
  }

  private stage(element: Element, owners: readonly ServicePortKey[]): void {
    let keys = this.claims.get(element.set);
    if (!keys) this.claims.set(element.set, (keys = new Map()));
    keys.set(element.key, owners);
  }

  private countPick(pick: string, delta: number): void {
    this.touchedPicks.add(pick);
    this.pickRefs.set(pick, this.pickCount(pick) + delta);
  }
}

function setClaims(claims: Claims, set: string): Map<string, Owners> {
  let keys = claims.get(set);
  if (!keys) claims.set(set, (keys = new Map()));
  return keys;
}

function ownerList(owners: Owners): readonly ServicePortKey[] {
  return typeof owners === 'string' ? [owners] : owners;
}

function firstOwner(owners: Owners | readonly ServicePortKey[]): ServicePortKey {
  return typeof owners === 'string' ? owners : owners[0]!;
}

/** The value a port's contribution gives an element. */
function valueOf(contribution: Contribution | undefined, set: string, key: string): string | undefined {
  return contribution?.elements.find((element) => element.set === set && element.key === key)?.value;
}
