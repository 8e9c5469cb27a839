import type { ProxyConfig, ProxyState } from '@kplane/core';
import { NftTransaction, type NftFamily, type NftOperation } from '../client/transaction.js';
import { baseChains, FAMILIES, generationLayout, generationName, generationOf, ofFamily, parsePick, pickChainName, pickChainRule, TABLE, TABLE_COMMENT } from './layout.js';
import { ElementsBySet, type NftPlan } from './plan.js';
import { WrittenTable, type WrittenTables } from './written-table.js';

/** How a full sync is cut into transactions. */
export interface FullSyncLimits {
  /** Elements per transaction; a sync with no more is one transaction. */
  readonly transactionElements: number;
  /** Element transactions meant to run side by side (a split sync makes at least this many). */
  readonly parallelTransactions: number;
}

/** One family's full sync, in three phases that may be split across transactions at element boundaries. */
interface FamilyPlan {
  /** Declares generation N+1 beside N (nothing jumps to it yet) and refreshes affinity objects. */
  readonly setup: readonly NftOperation[];
  /** Fills generation N+1's sets and maps. */
  readonly elements: readonly NftOperation[];
  /** Points the base chains at N+1, then removes N and whatever is stale. */
  readonly swap: readonly NftOperation[];
  /** The model once all phases are applied. */
  readonly next: WrittenTable;
}

/**
 * Plans a full sync: generation N+1 of both tables built beside N and swapped in at the end. Small
 * enough, it is one transaction; bigger, three stages: the setup, element transactions of at most
 * `transactionElements` each (side by side: they fill maps nothing uses until the swap), the swap.
 */
export function planFull(tables: WrittenTables, state: ProxyState, config: ProxyConfig, limits: FullSyncLimits): NftPlan {
  const plans = FAMILIES.map((family) => planFamily(family, state, config, tables[family]));
  const setup = plans.flatMap((plan) => plan.setup);
  const elements = plans.flatMap((plan) => plan.elements);
  const swap = plans.flatMap((plan) => plan.swap);
  const total = elements.reduce((sum, { object }) => sum + (object.kind === 'elements' ? object.elements.length : 0), 0);
  let stages: NftTransaction[][];
  if (total <= limits.transactionElements) {
    stages = [[transaction([...setup, ...elements, ...swap])]];
  } else {
    const pieces = Math.max(Math.ceil(total / limits.transactionElements), limits.parallelTransactions);
    stages = [[transaction(setup)], split(elements, Math.ceil(total / pieces)), [transaction(swap)]];
  }
  return {
    stages,
    commit: () => {
      for (const [index, family] of FAMILIES.entries()) tables[family] = plans[index]!.next;
    },
  };
}

function planFamily(family: NftFamily, state: ProxyState, config: ProxyConfig, previous: WrittenTable): FamilyPlan {
  const generation = previous.generation + 1;
  const bySet = new ElementsBySet();
  const next = WrittenTable.build(family, generation, state.values(), (element) => bySet.push(element.set, element));
  next.serviceCIDRs = ofFamily(family, state.serviceCIDRs);

  const setup = new NftTransaction(TABLE);
  setup.add(family, { kind: 'table', comment: TABLE_COMMENT });
  const bases = baseChains(generation);
  for (const base of bases) setup.add(family, { kind: 'chain', name: base.name, base: base.spec });
  const layout = generationLayout(family, config, generation, next.serviceCIDRs);
  for (const set of layout.sets) setup.add(family, { kind: set.kind, name: set.name, spec: set.spec });
  const picks = [...next.pickRefs.keys()].map(parsePick).map((pick) => ({ name: pickChainName(pick, generation), rules: [pickChainRule(family, pick, generation)] }));
  const chains = [...picks, ...layout.chains];
  for (const chain of chains) setup.add(family, { kind: 'chain', name: chain.name });
  for (const chain of chains) for (const rule of chain.rules) setup.add(family, { kind: 'rule', chain: chain.name, rule });
  for (const [name, spec] of next.affinitySets) setup.add(family, { kind: 'set', name, spec });
  for (const name of next.affinityChains.keys()) {
    setup.add(family, { kind: 'chain', name });
    if (previous.affinityChains.has(name)) setup.flush(family, { kind: 'chain', name });
  }
  for (const [name, rules] of next.affinityChains) for (const rule of rules) setup.add(family, { kind: 'rule', chain: name, rule });

  const elements = new NftTransaction(TABLE);
  for (const [set, list] of bySet) elements.add(family, { kind: 'elements', set: generationName(set, generation), elements: list });

  const swap = new NftTransaction(TABLE);
  for (const base of bases) {
    swap.flush(family, { kind: 'chain', name: base.name });
    for (const rule of base.rules) swap.add(family, { kind: 'rule', chain: base.name, rule });
  }
  const old = oldObjects(previous, family, config);
  const staleChains = [...previous.affinityChains.keys()].filter((name) => !next.affinityChains.has(name));
  for (const name of [...old.chains, ...staleChains]) swap.flush(family, { kind: 'chain', name });
  for (const name of old.maps) swap.delete(family, { kind: 'map', name });
  for (const name of old.sets) swap.delete(family, { kind: 'set', name });
  for (const name of [...old.chains, ...staleChains]) swap.delete(family, { kind: 'chain', name });
  for (const name of previous.affinitySets.keys()) if (!next.affinitySets.has(name)) swap.delete(family, { kind: 'set', name });

  return { setup: setup.operations, elements: elements.operations, swap: swap.operations, next };
}

/** Every generation object in the kernel before this sync: from the start-up listing, or from the model. */
function oldObjects(previous: WrittenTable, family: NftFamily, config: ProxyConfig): { chains: string[]; sets: string[]; maps: string[] } {
  const isGeneration = (name: string): boolean => generationOf(name) !== null;
  if (previous.leftover) {
    const { chains, sets, maps } = previous.leftover;
    return { chains: [...chains].filter(isGeneration), sets: [...sets].filter(isGeneration), maps: [...maps].filter(isGeneration) };
  }
  if (previous.generation === 0) return { chains: [], sets: [], maps: [] };
  const layout = generationLayout(family, config, previous.generation, previous.serviceCIDRs);
  const picks = [...previous.pickRefs.keys()].map((pick) => pickChainName(parsePick(pick), previous.generation));
  return {
    chains: [...picks, ...layout.chains.map((chain) => chain.name)],
    sets: layout.sets.filter((set) => set.kind === 'set').map((set) => set.name),
    maps: layout.sets.filter((set) => set.kind === 'map').map((set) => set.name),
  };
}

function transaction(operations: readonly NftOperation[]): NftTransaction {
  const tx = new NftTransaction(TABLE);
  // One by one: a setup with many affinity chains has more operations than a call takes arguments.
  for (const operation of operations) tx.operations.push(operation);
  return tx;
}

/** Element operations cut into transactions of at most `limit` elements each. */
function split(elements: readonly NftOperation[], limit: number): NftTransaction[] {
  const transactions = [transaction([])];
  let room = limit;
  for (const operation of elements) {
    if (operation.verb !== 'add' || operation.object.kind !== 'elements') throw new Error('only added elements are split');
    const { set, elements: list } = operation.object;
    for (let start = 0; start < list.length;) {
      if (room === 0) {
        transactions.push(transaction([]));
        room = limit;
      }
      const piece = list.slice(start, start + room);
      transactions.at(-1)!.add(operation.family, { kind: 'elements', set, elements: piece });
      start += piece.length;
      room -= piece.length;
    }
  }
  return transactions;
}
