import { ToolError } from '../backend/executor.js';

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

export interface FakeIptablesTablesOptions {
  /** The command these tables answer for (`iptables-nft`, `ip6tables-legacy`, `iptables`): errors name it, `-restore` appended for restores. */
  readonly tool: string;
  /** Most user chains nested below a base chain (nf_tables: 15, so iptables-nft); none by default (iptables-legacy). */
  readonly maxNesting?: number;
}

/**
 * One iptables ruleset (one variant, one IP family) in memory, for tests without root, in the
 * spirit of knftables' Fake: it applies `iptables-restore` input exactly as given and the plain
 * `-A/-I/-D/-C/-N/-F/-X` commands, with the kernel's refusals (a jump to a missing chain, appending
 * to a missing chain, deleting a chain that is referenced or not empty, deleting a rule that is not
 * there, a jump loop, nesting deeper than `maxNesting`). A refused change changes nothing and
 * throws a ToolError as the tool would. `save()` and `list()` print it as iptables-save and `-S` do.
 */
export class FakeIptablesTables {
  private tables: Tables = new Map();

  constructor(private readonly options: FakeIptablesTablesOptions) {}

  /** Applies one `iptables-restore` input; `noflush` as `--noflush` (else each table named is flushed first). */
  restore(input: string, noflush: boolean): void {
    this.transact(`${this.options.tool}-restore`, (tables) => applyRestore(tables, input, noflush));
  }

  /** One plain command, as arguments: `[-w N] [-t table] -A|-I|-D|-C|-N|-F|-X chain ...`; `-C` throws when the rule is missing. */
  command(args: readonly string[]): void {
    this.transact(this.options.tool, (tables) => applyCommand(tables, args));
  }

  /** The rules of every chain of one table, as written (a copy). */
  chains(table: string): Map<string, string[]> {
    const chains = this.tables.get(table) ?? new Map<string, Chain>();
    return new Map([...chains].map(([name, chain]) => [name, [...chain.rules]]));
  }

  /** iptables-save output: every table that exists, or only `table`; '' when none does. */
  save(table?: string): string {
    const lines: string[] = [];
    for (const name of Object.keys(BUILTIN_CHAINS)) {
      const chains = this.tables.get(name);
      if (!chains || (table !== undefined && table !== name)) continue;
      const ordered = orderedChains(chains);
      lines.push(`*${name}`);
      for (const [chainName, chain] of ordered) lines.push(`:${chainName} ${chain.policy} [0:0]`);
      for (const [chainName, chain] of ordered) for (const rule of chain.rules) lines.push(`-A ${chainName} ${rule}`);
      lines.push('COMMIT');
    }
    return lines.length > 0 ? `${lines.join('\n')}\n` : '';
  }

  /** `iptables -t <table> -S` output: policies, chain creations, then rules. */
  list(table: string): string {
    const ordered = orderedChains(this.table(table));
    const lines = ordered.map(([name, chain]) => (chain.builtin ? `-P ${name} ${chain.policy}` : `-N ${name}`));
    for (const [name, chain] of ordered) for (const rule of chain.rules) lines.push(`-A ${name} ${rule}`);
    return `${lines.join('\n')}\n`;
  }

  private table(name: string): Map<string, Chain> {
    return this.tables.get(name) ?? refused(this.options.tool, () => table(new Map(), name, false));
  }

  /** Applies a change to a copy and keeps it only when it succeeds. */
  private transact(tool: string, change: (tables: Tables) => void): void {
    const copy = structuredClone(this.tables);
    refused(tool, () => {
      change(copy);
      if (this.options.maxNesting !== undefined) for (const chains of copy.values()) checkNesting(chains, this.options.maxNesting);
    });
    this.tables = copy;
  }
}

/** Runs `work`, turning a refusal into the ToolError the tool would fail with. */
function refused<T>(tool: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof Refusal) throw new ToolError(tool, error.exitCode, error.message);
    throw error;
  }
}

class Refusal extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Built-in chains first, then the others by name, as iptables-save prints them. */
function orderedChains(chains: Map<string, Chain>): [string, Chain][] {
  const builtins = [...chains].filter(([, chain]) => chain.builtin);
  const own = [...chains].filter(([, chain]) => !chain.builtin).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [...builtins, ...own];
}

/** Refuses jump loops, and nesting deeper than `limit` below a base chain (nf_tables: EMLINK, "Too many links"). */
function checkNesting(chains: Map<string, Chain>, limit: number): void {
  const depth = new Map<string, number>();
  const below = (name: string, visiting: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) throw new Refusal(`Too many levels of symbolic links: chain '${name}' jumps into a loop`, 4);
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
    if (chain.builtin && below(name, new Set()) > limit) throw new Refusal(`RULE_INSERT failed (Too many links): rule in chain ${name}`, 4);
  }
}

function table(tables: Tables, name: string, create: boolean): Map<string, Chain> {
  let chains = tables.get(name);
  if (!chains) {
    const builtins = BUILTIN_CHAINS[name];
    if (!builtins) throw new Refusal(`can't initialize iptables table \`${name}': Table does not exist`);
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
      throw new Refusal(`${message}\nError occurred at line: ${index + 1}`, 2);
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
      if (error instanceof Refusal) fail(error.message);
      throw error;
    }
  });
  if (chains) throw new Refusal('COMMIT expected at the end of the input', 1);
}

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
    if (!found) throw new Refusal(`Chain '${chain}' does not exist`);
    return found;
  };
  const checkTarget = (ruleWords: readonly string[]): string => {
    const target = ruleTarget(ruleWords);
    if (target !== null && !chains.has(target) && !EXTENSION_TARGETS.has(target)) throw new Refusal(`Couldn't load target \`${target}'`);
    return ruleWords.map(quote).join(' ');
  };
  switch (operation) {
    case '-A':
      existing(name).rules.push(checkTarget(rest));
      return;
    case '-I': {
      const position = /^\d+$/.test(rest[0] ?? '') ? Number(rest.shift()) : 1;
      const chain = existing(name);
      if (position < 1 || position > chain.rules.length + 1) throw new Refusal('Index of insertion too big');
      chain.rules.splice(position - 1, 0, checkTarget(rest));
      return;
    }
    case '-D':
    case '-C': {
      const chain = existing(name);
      const index = chain.rules.indexOf(rest.map(quote).join(' '));
      if (index < 0) throw new Refusal('Bad rule (does a matching rule exist in that chain?)');
      if (operation === '-D') chain.rules.splice(index, 1);
      return;
    }
    case '-N':
      if (chains.has(name ?? '')) throw new Refusal('Chain already exists');
      chains.set(name!, { builtin: false, policy: '-', rules: [] });
      return;
    case '-F':
      for (const chain of name === undefined ? chains.values() : [existing(name)]) chain.rules = [];
      return;
    case '-X': {
      const chain = existing(name);
      if (chain.builtin) throw new Refusal(`Can't delete built-in chain '${name}'`);
      if (chain.rules.length > 0) throw new Refusal(`Directory not empty: chain '${name}' has rules`);
      const referenced = [...chains.values()].some((other) => other.rules.some((rule) => ruleTarget(tokenize(rule)) === name));
      if (referenced) throw new Refusal(`Too many links: chain '${name}' is referenced`);
      chains.delete(name!);
      return;
    }
    default:
      throw new Refusal(`unknown command ${operation}`);
  }
}

/** Splits one rule into words; double quotes group words, as iptables does. */
function tokenize(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!);
  return words;
}

/** One word as iptables-save prints it. */
function quote(word: string): string {
  return /[\s"\\]/.test(word) || word === '' ? `"${word.replace(/["\\]/g, '\\$&')}"` : word;
}

function ruleTarget(words: readonly string[]): string | null {
  const index = words.findIndex((word) => word === '-j' || word === '--jump' || word === '-g' || word === '--goto');
  return index >= 0 ? words[index + 1] ?? null : null;
}
