import type { ProxyConfig, ProxyState } from '@kplane/core';
import type { TableListing } from '../client/listing.js';
import { NftTransaction, type NftFamily } from '../client/transaction.js';
import { expectedTable, normalise } from './audit.js';
import { isAffinityObject } from './contribution.js';
import { baseChains, CHAIN, FAMILIES, generationName, generationOf, ofFamily, TABLE } from './layout.js';
import { ElementsBySet, type NftPlan } from './plan.js';
import { WrittenTable, type WrittenTables } from './written-table.js';

/** A pick chain's name (`pick-tcp-3-g7`, `nodeport-pick-cluster-udp-1-g7`): these come and go with endpoint counts. */
const PICK_CHAIN = /^(?:nodeport-)?pick(?:-cluster)?-(?:tcp|udp|sctp)-\d+-g\d+$/;

/** What the first full sync after a restart does: only the difference, or (with why) the full rewrite. */
export type ReadBack = { readonly plan: NftPlan } | { readonly fallback: string };

/**
 * The first full sync after a restart, planned against what the kernel already holds: `listings`
 * are both families' tables listed whole (rules and elements). When each holds exactly one
 * generation of kplane's layout as this config writes it, the plan keeps that generation and sends
 * only what differs from a full sync of `state` into it — elements, pick chains, affinity objects,
 * the cluster-ips-check chain's service CIDRs — as one transaction (none when nothing differs); its
 * commit() makes `tables` the model of that full sync. Anything else is a fallback to the full
 * rewrite, which replaces whatever is there: no table, several generations (a full sync cut short),
 * a chain or set kplane would not write, another rule in a fixed chain (other options or another
 * version), more elements to change than one transaction takes.
 */
export function planReadBack(tables: WrittenTables, listings: Record<NftFamily, TableListing | null>, state: ProxyState, config: ProxyConfig, transactionElements: number): ReadBack {
  const tx = new NftTransaction(TABLE);
  const next = new Map<NftFamily, WrittenTable>();
  for (const family of FAMILIES) {
    const result = planFamily(tx, family, listings[family], state, config);
    if (typeof result === 'string') return { fallback: `${family}: ${result}` };
    next.set(family, result);
  }
  const elements = tx.operations.reduce((sum, { object }) => sum + (object.kind === 'elements' ? object.elements.length : 0), 0);
  if (elements > transactionElements) return { fallback: `${elements} elements differ, more than one transaction takes` };
  return {
    plan: {
      stages: tx.size > 0 ? [[tx]] : [],
      commit: () => {
        for (const [family, table] of next) tables[family] = table;
      },
    },
  };
}

/** Adds to `tx` what one family's table lacks or holds too much of; the model after it, or why the full rewrite must run. */
function planFamily(tx: NftTransaction, family: NftFamily, listing: TableListing | null, state: ProxyState, config: ProxyConfig): WrittenTable | string {
  if (!listing) return 'no table';
  const generations = new Set([...listing.chains.keys(), ...listing.sets.keys()].map(generationOf).filter((generation) => generation !== null));
  if (generations.size !== 1) return `${generations.size} generations`;
  const [generation] = generations as Set<number>;
  const bySet = new ElementsBySet();
  const next = WrittenTable.build(family, generation!, state.values(), (element) => bySet.push(generationName(element.set, generation!), element));
  next.serviceCIDRs = ofFamily(family, state.serviceCIDRs);
  const expected = expectedTable(next, config);
  const bases = new Set(baseChains(generation!).map((base) => base.name));
  const clusterIPsCheck = generationName(CHAIN.clusterIPsCheck, generation!);
  /** Chains kplane makes and removes as services change; the others are fixed by the layout and options. */
  const mutable = (name: string): boolean => PICK_CHAIN.test(name) || isAffinityObject(name);

  const added: string[] = [];
  const rewritten: string[] = [];
  for (const [name, chain] of expected.chains) {
    const listed = listing.chains.get(name);
    if (listed && sameRules(chain.rules, listed.rules)) {
      if (bases.has(name) && (listed.base?.type !== chain.base?.type || listed.base?.hook !== chain.base?.hook)) return `base chain ${name} on another hook`;
      continue;
    }
    if (!listed && !mutable(name)) return `chain ${name} is missing`;
    if (listed && !mutable(name) && name !== clusterIPsCheck) return `chain ${name} has other rules`;
    (listed ? rewritten : added).push(name);
  }
  const removedChains = [...listing.chains.keys()].filter((name) => !expected.chains.has(name));
  if (removedChains.some((name) => !mutable(name))) return `chain ${removedChains.find((name) => !mutable(name))} is not kplane's`;

  const addedSets = [...expected.sets].filter(([name]) => !listing.sets.has(name));
  for (const [name, set] of expected.sets) {
    const listed = listing.sets.get(name);
    if (listed && listed.kind !== set.kind) return `${name} is a ${listed.kind}`;
    if (!listed && set.generation) return `${set.kind} ${name} is missing`;
  }
  const removedSets = [...listing.sets.keys()].filter((name) => !expected.sets.has(name));
  if (removedSets.some((name) => !isAffinityObject(name))) return `set ${removedSets.find((name) => !isAffinityObject(name))} is not kplane's`;

  // Elements: the kernel's keys as nft lists them (host prefixes bare), deleted by the listed key.
  const deletes = new ElementsBySet();
  const adds = new ElementsBySet();
  for (const [name, set] of expected.sets) {
    if (!set.generation) continue;
    const listed = new Map([...(listing.sets.get(name)!.elements ?? [])].map(([key, value]) => [normalise(key), { key, value }]));
    for (const element of bySet.get(name) ?? []) {
      const kernel = listed.get(normalise(element.key));
      listed.delete(normalise(element.key));
      if (kernel?.value === element.value && kernel !== undefined) continue;
      if (kernel) deletes.push(name, { key: kernel.key });
      adds.push(name, { key: element.key, ...(element.value !== undefined && { value: element.value }) });
    }
    for (const { key } of listed.values()) deletes.push(name, { key });
  }

  // In the order the kernel takes them (plan-partial's): what is jumped to before what jumps, removals last.
  for (const [name] of addedSets) tx.add(family, { kind: 'set', name, spec: next.affinitySets.get(name)! });
  for (const name of added) tx.add(family, { kind: 'chain', name });
  for (const name of [...added, ...rewritten]) {
    if (rewritten.includes(name)) tx.flush(family, { kind: 'chain', name });
    for (const rule of expected.chains.get(name)!.rules) tx.add(family, { kind: 'rule', chain: name, rule });
  }
  for (const [set, elements] of deletes) tx.delete(family, { kind: 'elements', set, elements });
  for (const [set, elements] of adds) tx.add(family, { kind: 'elements', set, elements });
  for (const name of removedChains) tx.flush(family, { kind: 'chain', name });
  for (const name of removedChains) tx.delete(family, { kind: 'chain', name });
  for (const name of removedSets) tx.delete(family, { kind: 'set', name });
  return next;
}

/** Rules as written and as nft lists them, equal but for nft's own spelling. */
function sameRules(written: readonly string[], listed: readonly string[] | undefined): boolean {
  return listed !== undefined && listed.length === written.length && written.every((rule, index) => nftSpelling(rule) === nftSpelling(listed[index]!));
}

/**
 * A rule with the spellings nft changes made alike (applied to the written and the listed rule):
 * marks in hex (`0x00004000` for `16384`... and `0` for `0x00000000`), a one-element set as a plain
 * comparison, `th dport` as the protocol's own after an l4proto match, `meta l4proto tcp` before
 * `reject with tcp reset` dropped, the family of `dnat ip to <address>` dropped. Anything else
 * nft spells differently makes the rule compare unequal: a fallback to the full rewrite, never a wrong match.
 */
export function nftSpelling(rule: string): string {
  return rule
    .replace(/\b0x[0-9a-f]+\b/g, (hex) => String(Number.parseInt(hex, 16)))
    .replace(/\{ ([^,{}]+) \}/g, '$1')
    .replace(/\b(?:tcp|udp|sctp) dport\b/g, 'th dport')
    .replace(/\bmeta l4proto tcp (reject with tcp reset)/, '$1')
    .replace(/\bdnat ip6? to\b/g, 'dnat to')
    .replace(/\s+/g, ' ')
    .trim();
}
