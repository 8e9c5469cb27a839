import type { ChangeMonitor, Clock, ProxyConfig } from '@kplane/core';
import type { NftClient } from '../client/client.js';
import { tableContents, type ListedChain, type ListedSet, type TableListing } from '../client/listing.js';
import type { NftFamily } from '../client/transaction.js';
import { baseChains, FAMILIES, generationLayout, generationName, parsePick, pickChainName, pickChainRule, TABLE } from './layout.js';
import { WrittenTable, type WrittenTables } from './written-table.js';

/** Whole-table audits take at most this share of the time: after one that took T, the next waits T × (1 / share - 1). */
const WHOLE_AUDIT_SHARE = 0.05;

/**
 * The drift check (`audit()`, every --audit-period between syncs), against the model of what the
 * last syncs wrote. Every audit: `nft list chains`, `nft -t list sets`, `nft -t list maps` (names
 * and hooks, 25-30 ms at any size) — a deleted table, a deleted or foreign chain, set or map, a base
 * chain on another hook; and what the monitor (`nft monitor`, NftClient.watchChanges) saw since:
 * any change to kplane's tables by a process kplane did not start (a flushed chain, a deleted
 * element or rule) is drift, found at the next period at any size. Where the monitor may have
 * missed changes (its first audit, a restart, lost events; always without a monitor: dry runs,
 * fakes) the tables are listed whole (rules and elements: 2 s at 20,000 services) and compared
 * in full, at most WHOLE_AUDIT_SHARE of the time. On drift the model learns the kernel's names, so
 * the full sync that repairs it replaces what is there, not what the model says was (flushing a
 * chain deleted from outside would refuse the whole sync).
 */
export class NftAudit {
  /** Whether a whole listing has matched the model since the monitor's last gap. */
  private checked = false;
  /** When (clock time) the next whole-table audit may run. */
  private wholeAuditAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly nft: NftClient,
    private readonly monitor: ChangeMonitor,
    private readonly config: ProxyConfig,
    private readonly clock: Clock,
  ) {}

  /** One line per difference, [] when the kernel matches; replaces `tables`' models by the kernel's names on drift. */
  async run(tables: WrittenTables): Promise<string[]> {
    const seen = this.monitor.take();
    if (seen.gap) this.checked = false;
    const written = FAMILIES.filter((family) => tables[family].generation > 0);
    if (written.length === 0) return [];
    const names = await this.nft.listNames(TABLE);
    let drift = written.flatMap((family) => structureDrift(family, expectedTable(tables[family], this.config), names[family]));
    if (drift.length === 0) drift = seen.foreign.map((change) => `changed from outside: ${change}`);
    if (drift.length === 0 && !this.checked && this.clock.now() >= this.wholeAuditAt) drift = await this.wholeTables(tables, written);
    if (drift.length > 0) for (const family of written) tables[family] = WrittenTable.fromKernel(family, names[family] && tableContents(names[family]));
    return drift;
  }

  stop(): void {
    this.monitor.stop();
  }

  /** Every family's table listed whole, its rules and every element compared with the model. */
  private async wholeTables(tables: WrittenTables, written: readonly NftFamily[]): Promise<string[]> {
    const startedAt = this.clock.now();
    const drift: string[] = [];
    for (const family of written) {
      const table = tables[family];
      const expected = expectedTable(table, this.config);
      const listing = await this.nft.listTable(family, TABLE, { terse: false });
      drift.push(...structureDrift(family, expected, listing));
      if (listing) for (const [name, set] of expectedElements(table, expected)) drift.push(...elementDrift(family, name, set, listing.sets.get(name)));
    }
    this.checked = true;
    this.wholeAuditAt = this.clock.now() + (this.clock.now() - startedAt) * (1 / WHOLE_AUDIT_SHARE - 1);
    return drift;
  }
}

/** A chain kplane wrote: its hook (base chains) and rules as written. */
interface ExpectedChain {
  readonly base?: ListedChain['base'];
  readonly rules: readonly string[];
}

/** A set or map kplane wrote; `elements` only for the generation's, not affinity sets (the kernel fills those). */
interface ExpectedSet {
  readonly kind: 'set' | 'map';
  readonly generation: boolean;
}

/** What one family's table holds according to the backend's model (what the last sync wrote), without elements. */
export interface ExpectedTable {
  readonly chains: ReadonlyMap<string, ExpectedChain>;
  readonly sets: ReadonlyMap<string, ExpectedSet>;
}

/** The table a model stands for, as a full sync would write it: base chains, the generation's layout, pick and affinity chains. */
export function expectedTable(table: WrittenTable, config: ProxyConfig): ExpectedTable {
  const generation = table.generation;
  const layout = generationLayout(table.family, config, generation, table.serviceCIDRs);
  const chains = new Map<string, ExpectedChain>();
  for (const base of baseChains(generation)) chains.set(base.name, { base: { type: base.spec.type, hook: base.spec.hook }, rules: base.rules });
  for (const chain of layout.chains) chains.set(chain.name, { rules: chain.rules });
  for (const pick of [...table.pickRefs.keys()].map(parsePick)) chains.set(pickChainName(pick, generation), { rules: [pickChainRule(table.family, pick, generation)] });
  for (const [name, rules] of table.affinityChains) chains.set(name, { rules });
  const sets = new Map<string, ExpectedSet>(layout.sets.map((set) => [set.name, { kind: set.kind, generation: true }]));
  for (const name of table.affinitySets.keys()) sets.set(name, { kind: 'set', generation: false });
  return { chains, sets };
}

/**
 * Every element of the generation's sets and maps, by set: computed again from each port's state,
 * one pass over the ports (at 20,000 services, 0.2-0.5 s of CPU: the costly part of a deep audit).
 */
export function expectedElements(table: WrittenTable, expected: ExpectedTable): Map<string, Map<string, string | undefined>> {
  const elements = new Map([...expected.sets].filter(([, set]) => set.generation).map(([name]) => [name, new Map<string, string | undefined>()]));
  for (const state of table.states.values()) {
    for (const element of table.contributionOf(state)?.elements ?? []) {
      elements.get(generationName(element.set, table.generation))?.set(normalise(element.key), element.value);
    }
  }
  return elements;
}

/**
 * Where the listed table's structure differs from the expected one: a missing table, chain, set or
 * map, one kplane did not write, a base chain on another hook, and when the listing has rules, a
 * chain whose rules were flushed, added or replaced. Rules are compared by count and by what they refer to (jump and goto targets,
 * @sets), which nft prints as written; the rest of a rule nft spells its own way (`reject with tcp
 * reset`, `0x00004000`, one-element sets as comparisons).
 */
export function structureDrift(family: NftFamily, expected: ExpectedTable, listing: TableListing | null): string[] {
  if (!listing) return [`${family}: table kplane is missing`];
  const drift: string[] = [];
  for (const [name, chain] of expected.chains) {
    const listed = listing.chains.get(name);
    if (!listed) {
      drift.push(`${family}: chain ${name} is missing`);
    } else if (chain.base && (listed.base?.type !== chain.base.type || listed.base.hook !== chain.base.hook)) {
      drift.push(`${family}: chain ${name} is not a ${chain.base.type} chain on hook ${chain.base.hook}`);
    } else if (listed.rules && listed.rules.length !== chain.rules.length) {
      drift.push(`${family}: chain ${name} has ${listed.rules.length} rules, kplane wrote ${chain.rules.length}`);
    } else if (listed.rules) {
      const rules = listed.rules;
      const index = chain.rules.findIndex((rule, i) => references(rule) !== references(rules[i]!));
      if (index >= 0) drift.push(`${family}: chain ${name} rule ${index + 1} is "${rules[index]}", kplane wrote "${chain.rules[index]}"`);
    }
  }
  for (const name of listing.chains.keys()) if (!expected.chains.has(name)) drift.push(`${family}: chain ${name} was not written by kplane`);
  for (const [name, set] of expected.sets) {
    const listed = listing.sets.get(name);
    if (listed?.kind !== set.kind) drift.push(`${family}: ${set.kind} ${name} is missing`);
  }
  for (const [name, set] of listing.sets) if (!expected.sets.has(name)) drift.push(`${family}: ${set.kind} ${name} was not written by kplane`);
  return drift;
}

/** Elements of one set or map that differ from what kplane wrote: missing, added or with another value. */
export function elementDrift(family: NftFamily, name: string, expected: ReadonlyMap<string, string | undefined>, listed: ListedSet | undefined): string[] {
  if (!listed?.elements) return [`${family}: ${name} is missing`];
  const drift: string[] = [];
  const seen = new Set<string>();
  for (const [rawKey, value] of listed.elements) {
    const key = normalise(rawKey);
    seen.add(key);
    if (!expected.has(key)) drift.push(`${family}: ${name} holds ${key}, which kplane did not write`);
    else if (expected.get(key) !== value) drift.push(`${family}: ${name} maps ${key} to ${value}, kplane wrote ${expected.get(key)}`);
  }
  for (const key of expected.keys()) if (!seen.has(key)) drift.push(`${family}: ${name} lacks ${key}`);
  return drift;
}

/** The chains and sets a rule names, in order. */
function references(rule: string): string {
  return (rule.match(/\b(?:jump|goto) [\w-]+|@[\w-]+/g) ?? []).join(' ');
}

/** A key as nft lists it: a host prefix (`/32`, `/128`) is shown as the bare address. */
export function normalise(key: string): string {
  return key.replace(/\/(?:32|128)\b/g, '');
}
