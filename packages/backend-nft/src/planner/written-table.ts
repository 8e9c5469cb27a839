import { isDeepStrictEqual } from 'node:util';
import type { ServicePortKey, ServicePortState } from '@kplane/core';
import type { TableContents } from '../client/client.js';
import type { NftFamily } from '../client/transaction.js';
import { contribute, isAffinityObject, NOTHING, type Contribution, type Element, type NamedChain, type NamedSet } from './contribution.js';
import { generationOf } from './layout.js';

/**
 * The service ports that claim an element group (see Element.group): one for a frontend (core gives
 * a frontend two Services claim to one of them), one or several for an element shared between ports
 * (a cluster IP, a hairpin pair), which every claimant writes alike: the kernel holds it once, until
 * its last claimant goes. Owners, not elements, are stored: the strings are shared with the
 * contributions, so the index costs little more than its Map entries, one per frontend or shared element.
 */
type Owners = ServicePortKey | readonly ServicePortKey[];

/**
 * kplane's model of what it has written to one family's table. Partial syncs are planned against it,
 * never against a listing of the kernel. It keeps the state each port was written from (the
 * engine's own objects, so it costs a Map entry) and the claims index; a port's elements are
 * computed again from its state when a sync needs them, the same each time.
 */
export class WrittenTable {
  generation = 0;
  /** The state each port's elements were written from. */
  readonly states = new Map<ServicePortKey, ServicePortState>();
  readonly claims = new Map<string, Owners>();
  /** Pick chains in the kernel (`kind:protocol:count`) and how many verdicts jump to each. */
  readonly pickRefs = new Map<string, number>();
  /** Affinity chains and sets in the kernel, with the rules and specs they were written with. */
  readonly affinityChains = new Map<string, readonly string[]>();
  readonly affinitySets = new Map<string, string>();
  /** Generation objects an earlier run left in the kernel (found at start-up), for the first full sync to remove. */
  leftover: TableContents | null = null;
  /** The service CIDRs of this family that the cluster-ips-check chain drops. */
  serviceCIDRs: readonly string[] = [];

  constructor(readonly family: NftFamily) {}

  /** The model of a table found in the kernel at start-up: names only, which is all a full sync needs. */
  static fromKernel(family: NftFamily, contents: TableContents | null): WrittenTable {
    const table = new WrittenTable(family);
    if (!contents) return table;
    // A loop, not Math.max(...names): tens of thousands of affinity objects would overflow the call stack.
    for (const names of [contents.chains, contents.sets, contents.maps]) {
      for (const name of names) table.generation = Math.max(table.generation, generationOf(name) ?? 0);
    }
    table.leftover = contents;
    for (const name of contents.chains) if (isAffinityObject(name)) table.affinityChains.set(name, []);
    for (const name of contents.sets) if (isAffinityObject(name)) table.affinitySets.set(name, '');
    return table;
  }

  /**
   * A model built in one go from every port's state (what a full sync writes). `written` receives
   * each element the kernel will hold, once (a shared element from its first claimant).
   */
  static build(family: NftFamily, generation: number, states: Iterable<ServicePortState>, written: (element: Element) => void): WrittenTable {
    const table = new WrittenTable(family);
    table.generation = generation;
    for (const state of states) {
      const key = state.servicePort.key;
      const contribution = contribute(state, family, generation);
      if (contribution === NOTHING) continue;
      table.states.set(key, state);
      let group: string | undefined;
      let first = false;
      for (const element of contribution.elements) {
        if (element.group !== group) {
          group = element.group;
          const owners = table.claims.get(group);
          first = owners === undefined || firstOwner(owners) === key;
          if (owners === undefined) table.claims.set(group, key);
          else if (!ownerList(owners).includes(key)) table.claims.set(group, [...ownerList(owners), key]);
        }
        if (first) written(element);
      }
      for (const pick of contribution.picks) table.pickRefs.set(pick, (table.pickRefs.get(pick) ?? 0) + 1);
      for (const chain of contribution.affinity.chains) table.affinityChains.set(chain.name, chain.rules);
      for (const set of contribution.affinity.sets) table.affinitySets.set(set.name, set.spec);
    }
    return table;
  }

  /** What a port with this state puts in this table (in this generation); undefined for nothing. */
  contributionOf(state: ServicePortState | undefined): Contribution | undefined {
    const contribution = state && contribute(state, this.family, this.generation);
    return contribution === NOTHING ? undefined : contribution;
  }
}

/** The backend's model of both tables: what a plan's commit() replaces or updates. */
export type WrittenTables = Record<NftFamily, WrittenTable>;

/**
 * Changes to a WrittenTable, staged while a sync is planned and committed only once the kernel has
 * accepted the transaction: a refused sync leaves the model describing the kernel as it still is.
 */
export class TableDraft {
  /** Staged states (null: the port goes), with their contributions. */
  private readonly states = new Map<ServicePortKey, ServicePortState | null>();
  private readonly contributions = new Map<ServicePortKey, Contribution | undefined>();
  /** Contributions of the table's ports, computed once per draft. */
  private readonly written = new Map<ServicePortKey, Contribution | undefined>();
  /** Staged claimants of touched groups (empty: the group goes). */
  private readonly claims = new Map<string, readonly ServicePortKey[]>();
  private readonly pickRefs = new Map<string, number>();
  private readonly affinityChains = new Map<string, readonly string[] | null>();
  private readonly affinitySets = new Map<string, string | null>();
  readonly touchedPicks = new Set<string>();
  /** New service CIDRs for the cluster-ips-check chain, when they changed. */
  serviceCIDRs: readonly string[] | null = null;

  constructor(readonly table: WrittenTable) {}

  /** What a port contributes as staged (or as written, when this draft has not touched it). */
  contribution(key: ServicePortKey): Contribution | undefined {
    return this.contributions.has(key) ? this.contributions.get(key) : this.writtenContribution(key);
  }

  /** Replaces the state one service port is written from; a change that leaves its elements alone is none. */
  replace(key: ServicePortKey, state: ServicePortState | undefined): void {
    const previous = this.contribution(key);
    if (state === (this.states.has(key) ? this.states.get(key) : this.table.states.get(key))) return;
    const next = this.table.contributionOf(state);
    // Only ports that put something in this table are remembered (an IPv4-only port is no concern of ip6's).
    this.states.set(key, next ? state! : null);
    if (isDeepStrictEqual(previous, next)) {
      this.contributions.set(key, previous);
      return;
    }
    for (const group of groupsOf(previous)) this.claims.set(group, this.ownersOf(group).filter((owner) => owner !== key));
    for (const group of groupsOf(next)) this.claims.set(group, [...this.ownersOf(group).filter((owner) => owner !== key), key]);
    for (const pick of previous?.picks ?? []) this.countPick(pick, -1);
    for (const pick of next?.picks ?? []) this.countPick(pick, +1);
    for (const chain of previous?.affinity.chains ?? []) this.affinityChains.set(chain.name, null);
    for (const set of previous?.affinity.sets ?? []) this.affinitySets.set(set.name, null);
    for (const chain of next?.affinity.chains ?? []) this.affinityChains.set(chain.name, chain.rules);
    for (const set of next?.affinity.sets ?? []) this.affinitySets.set(set.name, set.spec);
    this.contributions.set(key, next);
  }

  /** Elements the kernel must lose (`delete`) and gain (`add`); a changed value is both. */
  elementChanges(): { delete: Element[]; add: Element[] } {
    const changes = { delete: [] as Element[], add: [] as Element[] };
    for (const [group, owners] of this.claims) {
      const writtenOwners = this.table.claims.get(group);
      const kernel = writtenOwners === undefined ? [] : groupElements(this.writtenContribution(firstOwner(writtenOwners)), group);
      const before = new Map(kernel.map((element) => [`${element.set} ${element.key}`, element]));
      const after = owners.length === 0 ? [] : groupElements(this.contribution(owners[0]!), group);
      for (const element of after) {
        const id = `${element.set} ${element.key}`;
        const old = before.get(id);
        before.delete(id);
        if (old?.value === element.value && old !== undefined) continue;
        if (old) changes.delete.push(old);
        changes.add.push(element);
      }
      changes.delete.push(...before.values());
    }
    return changes;
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
    if (this.serviceCIDRs) table.serviceCIDRs = this.serviceCIDRs;
    for (const [key, state] of this.states) {
      if (state) table.states.set(key, state);
      else table.states.delete(key);
    }
    for (const [group, owners] of this.claims) {
      if (owners.length === 0) table.claims.delete(group);
      else table.claims.set(group, owners.length === 1 ? owners[0]! : owners);
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

  private writtenContribution(key: ServicePortKey): Contribution | undefined {
    if (!this.written.has(key)) this.written.set(key, this.table.contributionOf(this.table.states.get(key)));
    return this.written.get(key);
  }

  private ownersOf(group: string): readonly ServicePortKey[] {
    const staged = this.claims.get(group);
    if (staged) return staged;
    const written = this.table.claims.get(group);
    return written === undefined ? [] : ownerList(written);
  }

  private countPick(pick: string, delta: number): void {
    this.touchedPicks.add(pick);
    this.pickRefs.set(pick, this.pickCount(pick) + delta);
  }
}

function groupsOf(contribution: Contribution | undefined): Set<string> {
  return new Set(contribution?.elements.map((element) => element.group));
}

function groupElements(contribution: Contribution | undefined, group: string): Element[] {
  return contribution?.elements.filter((element) => element.group === group) ?? [];
}

function ownerList(owners: Owners): readonly ServicePortKey[] {
  return typeof owners === 'string' ? [owners] : owners;
}

function firstOwner(owners: Owners): ServicePortKey {
  return typeof owners === 'string' ? owners : owners[0]!;
}
