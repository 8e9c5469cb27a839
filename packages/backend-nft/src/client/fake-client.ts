import type { BaseChainSpec, NftFamily, NftObject, NftOperation, NftTransaction } from './transaction.js';
import type { NftClient, TableContents } from './nft-client.js';

interface FakeChain {
  base?: BaseChainSpec;
  rules: string[];
}

interface FakeSet {
  kind: 'set' | 'map';
  spec: string;
  elements: Map<string, string | undefined>;
}

interface FakeTable {
  comment?: string;
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
}

/** The kernel's answer to an operation it refuses (the whole transaction is then rolled back). */
export class FakeNftError extends Error {}

/**
 * An in-memory nftables (knftables' Fake): applies transactions atomically with the kernel's
 * refusals — a jump or goto to a missing chain, a reference to a missing set, a duplicate element
 * with another value, deleting what does not exist or is still in use — and dumps its state.
 */
export class FakeNft implements NftClient {
  private tables = new Map<string, FakeTable>();
  readonly transactions: NftTransaction[] = [];

  async run(transaction: NftTransaction): Promise<void> {
    const next = cloneTables(this.tables);
    transaction.operations.forEach((operation, index) => {
      try {
        apply(next, operation);
      } catch (error) {
        throw new FakeNftError(`operation ${index + 1} (${operation.verb} ${describe(operation.object)}): ${(error as Error).message}`);
      }
    });
    this.tables = next;
    this.transactions.push(transaction);
  }

  async list(family: NftFamily, table: string): Promise<TableContents | null> {
    const found = this.tables.get(`${family} ${table}`);
    if (!found) return null;
    const names = (kind: 'set' | 'map') => new Set([...found.sets].filter(([, set]) => set.kind === kind).map(([name]) => name));
    return { chains: new Set(found.chains.keys()), sets: names('set'), maps: names('map') };
  }

  /** Elements of one set or map (for assertions). */
  elements(family: NftFamily, table: string, set: string): ReadonlyMap<string, string | undefined> {
    return this.tables.get(`${family} ${table}`)?.sets.get(set)?.elements ?? new Map();
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
        for (const rule of chain.rules) lines.push(`    ${rule}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}

function apply(tables: Map<string, FakeTable>, { verb, family, table: tableName, object }: NftOperation): void {
  const id = `${family} ${tableName}`;
  if (object.kind === 'table') {
    if (verb === 'add') tables.set(id, tables.get(id) ?? { comment: object.comment, chains: new Map(), sets: new Map() });
    else if (verb === 'delete') must(tables.delete(id), 'no such table');
    else throw new Error('unsupported');
    return;
  }
  const table = tables.get(id);
  if (!table) throw new Error('no such table');
  switch (object.kind) {
    case 'chain': {
      const chain = table.chains.get(object.name);
      if (verb === 'add') {
        if (chain && JSON.stringify(chain.base) !== JSON.stringify(object.base)) throw new Error('exists with another type');
        if (!chain) table.chains.set(object.name, { base: object.base, rules: [] });
      } else if (verb === 'flush') {
        must(chain, 'no such chain').rules = [];
      } else {
        must(chain, 'no such chain');
        if (chain!.rules.length > 0) throw new Error('chain is not empty');
        if (chainReferenced(table, object.name)) throw new Error('chain is in use');
        table.chains.delete(object.name);
      }
      return;
    }
    case 'rule': {
      const chain = must(table.chains.get(object.chain), 'no such chain');
      checkReferences(table, object.rule);
      chain.rules.push(object.rule);
      return;
    }
    case 'set':
    case 'map': {
      const set = table.sets.get(object.name);
      if (verb === 'add') {
        if (set && (set.kind !== object.kind || set.spec !== object.spec)) throw new Error('exists with another type');
        if (!set) table.sets.set(object.name, { kind: object.kind, spec: object.spec, elements: new Map() });
      } else if (verb === 'flush') {
        must(set, `no such ${object.kind}`).elements.clear();
      } else {
        must(set, `no such ${object.kind}`);
        const reference = new RegExp(`@${escape(object.name)}(?![\\w-])`);
        if ([...table.chains.values()].some((chain) => chain.rules.some((rule) => reference.test(rule)))) throw new Error('set is in use');
        table.sets.delete(object.name);
      }
      return;
    }
    case 'elements': {
      const set = must(table.sets.get(object.set), 'no such set');
      for (const { key, value } of object.elements) {
        if (verb === 'add') {
          if (set.elements.has(key) && set.elements.get(key) !== value) throw new Error(`element ${key} exists with another value`);
          if (value !== undefined) checkReferences(table, value);
          set.elements.set(key, value);
        } else if (verb === 'delete') {
          must(set.elements.delete(key), `no such element ${key}`);
        } else {
          throw new Error('unsupported');
        }
      }
    }
  }
}

/** Chains named by jump/goto and sets named by @ in rule text or a verdict. */
function checkReferences(table: FakeTable, text: string): void {
  for (const match of text.matchAll(/\b(?:jump|goto) ([\w-]+)/g)) must(table.chains.get(match[1]!), `jump to missing chain ${match[1]}`);
  for (const match of text.matchAll(/@([\w-]+)/g)) must(table.sets.get(match[1]!), `reference to missing set ${match[1]}`);
}

function chainReferenced(table: FakeTable, name: string): boolean {
  const pattern = new RegExp(`\\b(?:jump|goto) ${escape(name)}(?![\\w-])`);
  for (const chain of table.chains.values()) if (chain.rules.some((rule) => pattern.test(rule))) return true;
  for (const set of table.sets.values()) for (const value of set.elements.values()) if (value && pattern.test(value)) return true;
  return false;
}

function must<T>(value: T | undefined | false, message: string): T {
  if (value === undefined || value === false) throw new Error(message);
  return value as T;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function describe(object: NftObject): string {
  switch (object.kind) {
    case 'table': return 'table';
    case 'chain': return `chain ${object.name}`;
    case 'rule': return `rule in ${object.chain}`;
    case 'elements': return `elements of ${object.set}`;
    default: return `${object.kind} ${object.name}`;
  }
}

function cloneTables(tables: Map<string, FakeTable>): Map<string, FakeTable> {
  return new Map([...tables].map(([id, table]) => [id, {
    comment: table.comment,
    chains: new Map([...table.chains].map(([name, chain]) => [name, { base: chain.base, rules: [...chain.rules] }])),
    sets: new Map([...table.sets].map(([name, set]) => [name, { kind: set.kind, spec: set.spec, elements: new Map(set.elements) }])),
  }]));
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
