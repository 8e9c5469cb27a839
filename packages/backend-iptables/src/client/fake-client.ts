import { ToolError, type Batch, type Executor, type IPFamily, type Query } from '@kplane/core';
import { quote, ruleTarget, tokenize } from './rule-text.js';
import type { Mode } from './tools.js';

const BUILTIN_CHAINS: Readonly<Record<string, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** Targets provided by extensions; any other target must be a chain of the table. */
const EXTENSION_TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'DNAT', 'SNAT', 'MASQUERADE', 'MARK', 'CONNMARK', 'LOG', 'NOTRACK', 'CT']);

interface Chain {
  readonly builtin: boolean;
  policy: string;
  rules: string[];
}

type Tables = Map<string, Map<string, Chain>>;

/**
 * An in-memory iptables for tests without root, in the spirit of knftables' Fake: it applies
 * `ip(6)tables-{nft,legacy}-restore` batches (and the plain `-C/-I/-D` commands) to a model of each
 * variant and family, with the kernel's refusals (a jump to a missing chain, appending to a missing
 * chain, deleting a chain that is referenced or not empty, deleting a rule that is not there, a jump
 * loop, and in iptables-nft chains nested more than 15 deep below a base chain); a failed restore
 * changes nothing. `*-save` queries dump the model in iptables-save format. Every
 * batch and query is recorded, so tests also see what was sent and read.
 */
export class FakeIptables implements Executor {
  readonly live = false;
  readonly batches: Batch[] = [];
  readonly queries: Query[] = [];
  private readonly rulesets = new Map<string, Tables>();

  async apply(batch: Batch): Promise<void> {
    this.batches.push(batch);
    const restore = /^(ip6?tables)-(nft|legacy)-restore$/.exec(batch.tool);
    const command = /^(ip6?tables)-(nft|legacy)$/.exec(batch.tool);
    if (restore) this.transact(batch.tool, restore, (tables) => applyRestore(tables, batch.input, batch.args.includes('--noflush')));
    else if (command) this.transact(batch.tool, command, (tables) => applyCommand(tables, batch.args));
  }

  async read(query: Query): Promise<string> {
    this.queries.push(query);
    const save = /^(ip6?tables)-(nft|legacy)-save$/.exec(query.tool);
    if (save) {
      const table = query.args.includes('-t') ? query.args[query.args.indexOf('-t') + 1] : undefined;
      return dump(this.tables(variant(save)), table);
    }
    const command = /^(ip6?tables)-(nft|legacy)$/.exec(query.tool);
    if (command && query.args.includes('-C')) {
      // `-C` answers by its exit code, like the real command.
      this.transact(query.tool, command, (tables) => applyCommand(structuredClone(tables), query.args));
    }
    return '';
  }

  /** The rules of every chain of one table, as written (a copy). */
  chains(mode: Mode, family: IPFamily, table: string): Map<string, string[]> {
    const chains = this.tables(`${mode}/${family}`).get(table) ?? new Map<string, Chain>();
    return new Map([...chains].map(([name, chain]) => [name, [...chain.rules]]));
  }

  /** One variant's tables in iptables-save format. */
  dump(mode: Mode, family: IPFamily, table?: string): string {
    return dump(this.tables(`${mode}/${family}`), table);
  }

  private tables(key: string): Tables {
    let tables = this.rulesets.get(key);
    if (!tables) this.rulesets.set(key, (tables = new Map()));
    return tables;
  }

  /** Applies a change to a copy and keeps it only when it succeeds. */
  private transact(tool: string, match: RegExpExecArray, change: (tables: Tables) => void): void {
    const key = variant(match);
    const copy = structuredClone(this.tables(key));
    try {
      change(copy);
      if (key.startsWith('nft/')) for (const chains of copy.values()) checkNesting(chains);
    } catch (error) {
      if (error instanceof FakeError) throw new ToolError(tool, error.exitCode, error.message);
      throw error;
    }
    this.rulesets.set(key, copy);
  }
}

class FakeError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** nf_tables (and so iptables-nft) refuses a ruleset nesting more than this many chains below a base chain. */
const NFT_MAX_NESTING = 15;

/** Refuses jump loops, and in iptables-nft nesting deeper than nf_tables allows (EMLINK, "Too many links"). */
function checkNesting(chains: Map<string, Chain>): void {
  const depth = new Map<string, number>();
  const below = (name: string, visiting: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) throw new FakeError(`Too many levels of symbolic links: chain '${name}' jumps into a loop`, 4);
    visiting.add(name);
    let deepest = 0;
    for (const rule of chains.get(name)!.rules) {
      const target = ruleTarget(tokenize(rule));
      if (target !== null && chains.has(target) && !chains.get(target)!.builtin) deepest = Math.max(deepest, 1 + below(target, visiting));
    }
    visiting.delete(name);
    depth.set(name, deepest);
    return deepest;
  };
  for (const [name, chain] of chains) {
    if (chain.builtin && below(name, new Set()) > NFT_MAX_NESTING) throw new FakeError(`RULE_INSERT failed (Too many links): rule in chain ${name}`, 4);
  }
}

function variant(match: RegExpExecArray): string {
  return `${match[2]}/${match[1] === 'iptables' ? 4 : 6}`;
}

function table(tables: Tables, name: string, create: boolean): Map<string, Chain> {
  let chains = tables.get(name);
  if (!chains) {
    const builtins = BUILTIN_CHAINS[name];
    if (!builtins) throw new FakeError(`can't initialize iptables table \`${name}': Table does not exist`);
    chains = new Map(builtins.map((chain) => [chain, { builtin: true, policy: 'ACCEPT', rules: [] }]));
    if (create) tables.set(name, chains);
  }
  return chains;
}

function applyRestore(tables: Tables, input: string, noflush: boolean): void {
  let chains: Map<string, Chain> | null = null;
  input.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const fail = (message: string): never => {
      throw new FakeError(`${message}\nError occurred at line: ${index + 1}`, 2);
    };
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('*')) {
      const name = line.slice(1);
      if (!noflush) tables.delete(name);
      chains = table(tables, name, true);
      return;
    }
    if (!chains) fail('no table selected');
    if (line === 'COMMIT') {
      chains = null;
      return;
    }
    if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      const chain = chains!.get(name!);
      if (chain?.builtin) chain.policy = policy!;
      else if (chain) chain.rules = [];
      else chains!.set(name!, { builtin: false, policy: '-', rules: [] });
      return;
    }
    try {
      applyWords(chains!, tokenize(line));
    } catch (error) {
      if (error instanceof FakeError) fail(error.message);
      throw error;
    }
  });
  if (chains) throw new FakeError('COMMIT expected at the end of the input', 1);
}

/** A plain `iptables [-w N] [-t table] -C|-I|-D|-A chain ...` command, given as arguments. */
function applyCommand(tables: Tables, args: readonly string[]): void {
  const words = [...args];
  let tableName = 'filter';
  for (let index = 0; index < words.length; ) {
    if (words[index] === '-w' || words[index] === '--wait') words.splice(index, /^\d+$/.test(words[index + 1] ?? '') ? 2 : 1);
    else if (words[index] === '-t') tableName = words.splice(index, 2)[1]!;
    else index++;
  }
  applyWords(table(tables, tableName, true), words);
}

function applyWords(chains: Map<string, Chain>, words: readonly string[]): void {
  const [operation, name, ...rest] = words;
  const existing = (chain: string | undefined): Chain => {
    const found = chains.get(chain ?? '');
    if (!found) throw new FakeError(`Chain '${chain}' does not exist`);
    return found;
  };
  const checkTarget = (ruleWords: readonly string[]): string => {
    const target = ruleTarget(ruleWords);
    if (target !== null && !chains.has(target) && !EXTENSION_TARGETS.has(target)) throw new FakeError(`Couldn't load target \`${target}'`);
    return ruleWords.map(quote).join(' ');
  };
  switch (operation) {
    case '-A':
      existing(name).rules.push(checkTarget(rest));
      return;
    case '-I': {
      const position = /^\d+$/.test(rest[0] ?? '') ? Number(rest.shift()) : 1;
      const chain = existing(name);
      if (position < 1 || position > chain.rules.length + 1) throw new FakeError('Index of insertion too big');
      chain.rules.splice(position - 1, 0, checkTarget(rest));
      return;
    }
    case '-D':
    case '-C': {
      const chain = existing(name);
      const index = chain.rules.indexOf(rest.map(quote).join(' '));
      if (index < 0) throw new FakeError('Bad rule (does a matching rule exist in that chain?)');
      if (operation === '-D') chain.rules.splice(index, 1);
      return;
    }
    case '-N':
      if (chains.has(name ?? '')) throw new FakeError('Chain already exists');
      chains.set(name!, { builtin: false, policy: '-', rules: [] });
      return;
    case '-F':
      for (const chain of name === undefined ? chains.values() : [existing(name)]) chain.rules = [];
      return;
    case '-X': {
      const chain = existing(name);
      if (chain.builtin) throw new FakeError(`Can't delete built-in chain '${name}'`);
      if (chain.rules.length > 0) throw new FakeError(`Directory not empty: chain '${name}' has rules`);
      const referenced = [...chains.values()].some((other) => other.rules.some((rule) => ruleTarget(tokenize(rule)) === name));
      if (referenced) throw new FakeError(`Too many links: chain '${name}' is referenced`);
      chains.delete(name!);
      return;
    }
    default:
      throw new FakeError(`unknown command ${operation}`);
  }
}

function dump(tables: Tables, only: string | undefined): string {
  const lines: string[] = [];
  for (const name of Object.keys(BUILTIN_CHAINS)) {
    const chains = tables.get(name);
    if (!chains || (only !== undefined && only !== name)) continue;
    const builtins = [...chains].filter(([, chain]) => chain.builtin);
    const own = [...chains].filter(([, chain]) => !chain.builtin).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    lines.push(`*${name}`);
    for (const [chainName, chain] of [...builtins, ...own]) lines.push(`:${chainName} ${chain.policy} [0:0]`);
    for (const [chainName, chain] of [...builtins, ...own]) for (const rule of chain.rules) lines.push(`-A ${chainName} ${rule}`);
    lines.push('COMMIT');
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
