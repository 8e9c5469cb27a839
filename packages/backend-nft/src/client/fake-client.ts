import { FakeChangeMonitor } from '@kplane/core/testing';
import type { NftClient, TableContents } from './client.js';
import type { ListedSet, TableListing } from './listing.js';
import type { BaseChainSpec, NftFamily, NftTransaction } from './transaction.js';

interface FakeRule {
  readonly handle: number;
  readonly text: string;
}

interface FakeChain {
  readonly base?: BaseChainSpec;
  rules: FakeRule[];
}

interface FakeSet {
  readonly kind: 'set' | 'map';
  readonly spec: string;
  readonly elements: Map<string, string | undefined>;
}

interface FakeTable {
  readonly comment?: string;
  /** The last handle given out: chains, sets and rules of a table share one counter, as in the kernel. */
  lastHandle: number;
  readonly chains: Map<string, FakeChain>;
  readonly sets: Map<string, FakeSet>;
}

/** The kernel's (or nft's) answer to a transaction it refuses: none of it is applied. */
export class FakeNftError extends Error {}

/**
 * An in-memory nftables (knftables' Fake). It parses the `nft -f` text a transaction renders to, so
 * a command rendered wrong is refused here as nft refuses it, and applies it atomically with the
 * kernel's refusals: a jump or goto to a missing chain, a reference to a missing set, an element
 * with another value than the one it has, deleting what does not exist or is still in use, a rule
 * deleted other than by the handle the kernel gave it. It numbers rules as the kernel does (one
 * counter per table for chains, sets, anonymous sets and rules) as long as no transaction was refused: the kernel
 * does not give back the handles a refused transaction took. Stricter than kernel 6.18 in two places:
 * a chain must be empty to be deleted (so kplane flushes first, which any kernel accepts), and a set
 * added again must have the same spec text (the kernel compares only the types).
 */
export class FakeNftClient implements NftClient {
  private tables = new Map<string, FakeTable>();
  /** Every transaction applied, in order (refused ones excluded). */
  readonly transactions: NftTransaction[] = [];
  /** What the audit's monitor saw: tests tell it of a change from outside (`foreignChange`) or a gap (`loseEvents`). */
  readonly changes = new FakeChangeMonitor();
  private readonly faults: ((transaction: NftTransaction) => boolean)[] = [];

  /** Makes the next transaction that `matches` (by default: any) fail as if the kernel refused it. Calls queue up. */
  failNext(matches: (transaction: NftTransaction) => boolean = () => true): this {
    this.faults.push(matches);
    return this;
  }

  async run(transaction: NftTransaction): Promise<void> {
    const fault = this.faults.findIndex((matches) => matches(transaction));
    if (fault >= 0) {
      this.faults.splice(fault, 1);
      throw new FakeNftError('injected failure');
    }
    this.execute(transaction.toString());
    this.transactions.push(transaction);
  }

  /**
   * Applies `nft -f` text from outside, as `nft` run by someone else: every command or, when one is
   * refused, none. Not recorded in `transactions`; a change to kplane's table is seen by `changes`,
   * as nft monitor would show it.
   */
  apply(text: string): void {
    this.execute(text);
    const ours = text.split('\n').find((line) => /^\S+ \S+ ip6? kplane\b/.test(line));
    if (ours) this.changes.foreignChange(`"${ours}" by process 1 (nft)`);
  }

  private execute(text: string): void {
    const next = cloneTables(this.tables);
    text.split('\n').forEach((line, index) => {
      if (line.trim() === '') return;
      try {
        execute(next, line);
      } catch (error) {
        throw new FakeNftError(`line ${index + 1} (${line.length > 100 ? `${line.slice(0, 100)}…` : line}): ${(error as Error).message}`);
      }
    });
    this.tables = next;
  }

  async list(family: NftFamily, table: string): Promise<TableContents | null> {
    const found = this.tables.get(`${family} ${table}`);
    if (!found) return null;
    const names = (kind: 'set' | 'map') => new Set([...found.sets].filter(([, set]) => set.kind === kind).map(([name]) => name));
    return { chains: new Set(found.chains.keys()), sets: names('set'), maps: names('map') };
  }

  async listNames(table: string): Promise<Record<NftFamily, TableListing | null>> {
    const names = (family: NftFamily): TableListing | null => {
      const listing = this.listing(family, table, true);
      return listing && { chains: new Map([...listing.chains].map(([name, chain]) => [name, { base: chain.base }])), sets: listing.sets };
    };
    return { ip: names('ip'), ip6: names('ip6') };
  }

  async listTable(family: NftFamily, table: string, { terse }: { readonly terse: boolean }): Promise<TableListing | null> {
    return this.listing(family, table, terse);
  }

  watchChanges(): FakeChangeMonitor {
    return this.changes;
  }

  private listing(family: NftFamily, table: string, terse: boolean): TableListing | null {
    const found = this.tables.get(`${family} ${table}`);
    if (!found) return null;
    const chains = new Map([...found.chains].map(([name, chain]) => [name, {
      base: chain.base && { type: chain.base.type, hook: chain.base.hook },
      rules: chain.rules.map((rule) => rule.text),
    }]));
    return { chains, sets: new Map([...found.sets].map(([name, set]) => [name, listedSet(set, terse)])) };
  }

  /** Elements of one set or map (for assertions). */
  elements(family: NftFamily, table: string, set: string): ReadonlyMap<string, string | undefined> {
    return this.tables.get(`${family} ${table}`)?.sets.get(set)?.elements ?? new Map();
  }

  /** Rules of one chain with their handles, as `nft -a list chain` shows them (for assertions). */
  rules(family: NftFamily, table: string, chain: string): readonly { handle: number; rule: string }[] {
    return this.tables.get(`${family} ${table}`)?.chains.get(chain)?.rules.map(({ handle, text }) => ({ handle, rule: text })) ?? [];
  }

  /** The whole state as sorted text, for golden tests. */
  dump(): string {
    const lines: string[] = [];
    for (const [id, table] of [...this.tables].sort(byKey)) {
      lines.push(`table ${id}${table.comment ? ` # ${table.comment}` : ''}`);
      for (const [name, set] of [...table.sets].sort(byKey)) {
        lines.push(`  ${set.kind} ${name} { ${set.spec} }`);
        for (const [key, value] of [...set.elements].sort(byKey)) lines.push(`    ${value === undefined ? key : `${key} : ${value}`}`);
      }
      for (const [name, chain] of [...table.chains].sort(byKey)) {
        lines.push(`  chain ${name}${chain.base ? ` { type ${chain.base.type} hook ${chain.base.hook} priority ${chain.base.priority} }` : ''}`);
        for (const rule of chain.rules) lines.push(`    ${rule.text}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

/** One command of nft's language, as far as kplane speaks it (anything else is refused, as nft refuses a syntax error). */
const COMMAND = /^(add|delete|flush) (table|chain|rule|set|map|element) (ip|ip6) (\S+)(?: (.+))?$/;
const TABLE_COMMENT = /^\{ comment ("(?:[^"\\]|\\.)*"); \}$/;
const BASE_CHAIN = /^(\S+) \{ type (filter|nat) hook (prerouting|input|forward|output|postrouting) priority ([^;]+); policy accept; \}$/;
const WITH_BODY = /^(\S+) \{ (.*) \}$/;

function execute(tables: Map<string, FakeTable>, line: string): void {
  const command = COMMAND.exec(line);
  if (!command) throw new Error('syntax error');
  const [, verb, kind, family, tableName, rest] = command as unknown as [string, 'add' | 'delete' | 'flush', string, string, string, string | undefined];
  const id = `${family} ${tableName}`;
  if (kind === 'table') {
    if (verb === 'add') {
      const comment = rest === undefined ? undefined : TABLE_COMMENT.exec(rest)?.[1];
      if (rest !== undefined && comment === undefined) throw new Error('syntax error');
      if (!tables.has(id)) tables.set(id, { comment: comment && (JSON.parse(comment) as string), lastHandle: 0, chains: new Map(), sets: new Map() });
    } else if (verb === 'delete' && rest === undefined) {
      must(tables.delete(id), 'no such table');
    } else {
      throw new Error('not modelled by the fake');
    }
    return;
  }
  const table = must(tables.get(id), 'no such table');
  if (rest === undefined) throw new Error('syntax error');
  switch (kind) {
    case 'chain': return chainCommand(table, verb, rest);
    case 'rule': return ruleCommand(table, verb, rest);
    case 'set':
    case 'map': return setCommand(table, verb, kind, rest);
    default: return elementCommand(table, verb, rest);
  }
}

function chainCommand(table: FakeTable, verb: 'add' | 'delete' | 'flush', rest: string): void {
  const base = BASE_CHAIN.exec(rest);
  if (base && verb !== 'add') throw new Error('syntax error');
  const name = base ? base[1]! : plainName(rest);
  const chain = table.chains.get(name);
  if (verb === 'add') {
    const spec: BaseChainSpec | undefined = base ? { type: base[2] as BaseChainSpec['type'], hook: base[3] as BaseChainSpec['hook'], priority: base[4]! } : undefined;
    if (chain && JSON.stringify(chain.base) !== JSON.stringify(spec)) throw new Error('exists with another type');
    if (!chain) {
      table.chains.set(name, { base: spec, rules: [] });
      table.lastHandle++;
    }
  } else if (verb === 'flush') {
    must(chain, 'no such chain').rules = [];
  } else {
    if (must(chain, 'no such chain').rules.length > 0) throw new Error('chain is not empty');
    if (chainReferenced(table, name)) throw new Error('chain is in use');
    table.chains.delete(name);
  }
}

function ruleCommand(table: FakeTable, verb: 'add' | 'delete' | 'flush', rest: string): void {
  const space = rest.indexOf(' ');
  if (space < 0 || verb === 'flush') throw new Error('syntax error');
  const chain = must(table.chains.get(rest.slice(0, space)), 'no such chain');
  const rule = rest.slice(space + 1);
  if (verb === 'add') {
    checkReferences(table, rule);
    table.lastHandle += anonymousSets(rule);
    chain.rules.push({ handle: ++table.lastHandle, text: rule });
    return;
  }
  // nft deletes a rule by its handle alone: `delete rule ip kplane <chain> handle <n>`.
  const handle = /^handle (\d+)$/.exec(rule);
  if (!handle) throw new Error('syntax error, expecting handle');
  const index = chain.rules.findIndex((candidate) => candidate.handle === Number(handle[1]));
  if (index < 0) throw new Error('no such rule');
  chain.rules.splice(index, 1);
}

function setCommand(table: FakeTable, verb: 'add' | 'delete' | 'flush', kind: 'set' | 'map', rest: string): void {
  const body = WITH_BODY.exec(rest);
  if (body && verb !== 'add') throw new Error('syntax error');
  const name = body ? body[1]! : plainName(rest);
  const set = table.sets.get(name);
  if (verb === 'add') {
    if (!body) throw new Error('syntax error');
    if (set && (set.kind !== kind || set.spec !== body[2])) throw new Error('exists with another type');
    if (!set) {
      table.sets.set(name, { kind, spec: body[2]!, elements: new Map() });
      table.lastHandle++;
    }
    return;
  }
  if (set?.kind !== kind) throw new Error(`no such ${kind}`);
  if (verb === 'flush') {
    set.elements.clear();
  } else {
    const reference = new RegExp(`@${escape(name)}(?![\\w-])`);
    if ([...table.chains.values()].some((chain) => chain.rules.some((rule) => reference.test(rule.text)))) throw new Error(`${kind} is in use`);
    table.sets.delete(name);
  }
}

function elementCommand(table: FakeTable, verb: 'add' | 'delete' | 'flush', rest: string): void {
  const body = WITH_BODY.exec(rest);
  if (!body || verb === 'flush') throw new Error('syntax error');
  const set = must(table.sets.get(body[1]!), 'no such set or map');
  for (const item of body[2]!.split(', ')) {
    const colon = item.indexOf(' : ');
    const key = colon < 0 ? item : item.slice(0, colon);
    const value = colon < 0 ? undefined : item.slice(colon + 3);
    if (verb === 'delete') {
      must(set.elements.delete(key), `no such element ${key}`);
      continue;
    }
    if ((value !== undefined) !== (set.kind === 'map')) throw new Error(set.kind === 'map' ? `element ${key} has no value` : `element ${key} of a set has a value`);
    if (set.elements.has(key) && set.elements.get(key) !== value) throw new Error(`element ${key} exists with another value`);
    if (value !== undefined) checkReferences(table, value);
    set.elements.set(key, value);
  }
}

/** Chains named by jump/goto and sets named by @ in rule text or a verdict. */
function checkReferences(table: FakeTable, text: string): void {
  for (const match of text.matchAll(/\b(?:jump|goto) ([\w-]+)/g)) must(table.chains.get(match[1]!), `jump to missing chain ${match[1]}`);
  for (const match of text.matchAll(/@([\w-]+)/g)) must(table.sets.get(match[1]!), `reference to missing set ${match[1]}`);
}

/**
 * The anonymous sets nft makes for a rule, each taking a handle before the rule's own: one per map
 * or verdict map literal, and per set literal of more than one element (one element becomes a
 * comparison). `@set { ip saddr }` (a set statement's key) is no literal.
 */
function anonymousSets(rule: string): number {
  let count = 0;
  for (const [, before, items] of rule.matchAll(/(\S+) \{ ([^}]*) \}/g)) {
    if (before!.startsWith('@')) continue;
    if (before === 'vmap' || before === 'map' || items!.includes(',')) count++;
  }
  return count;
}

function chainReferenced(table: FakeTable, name: string): boolean {
  const pattern = new RegExp(`\\b(?:jump|goto) ${escape(name)}(?![\\w-])`);
  for (const chain of table.chains.values()) if (chain.rules.some((rule) => pattern.test(rule.text))) return true;
  for (const set of table.sets.values()) for (const value of set.elements.values()) if (value && pattern.test(value)) return true;
  return false;
}

function plainName(text: string): string {
  if (!/^\S+$/.test(text)) throw new Error('syntax error');
  return text;
}

function must<T>(value: T | undefined | false, message: string): T {
  if (value === undefined || value === false) throw new Error(message);
  return value as T;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function listedSet(set: FakeSet, terse: boolean): ListedSet {
  return terse ? { kind: set.kind } : { kind: set.kind, elements: new Map(set.elements) };
}

function cloneTables(tables: Map<string, FakeTable>): Map<string, FakeTable> {
  return new Map([...tables].map(([id, table]) => [id, {
    comment: table.comment,
    lastHandle: table.lastHandle,
    chains: new Map([...table.chains].map(([name, chain]) => [name, { base: chain.base, rules: [...chain.rules] }])),
    sets: new Map([...table.sets].map(([name, set]) => [name, { kind: set.kind, spec: set.spec, elements: new Map(set.elements) }])),
  }]));
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
