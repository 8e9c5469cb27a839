import { Refusal, refuse } from './fake-refusal.js';

interface IpSet {
  type: string;
  family: string;
  options: string;
  entries: Set<string>;
}

/** Parts of an entry per set type, `,`-separated: ip, proto:port, ip or net. */
const ENTRY_PARTS: Readonly<Record<string, readonly RegExp[]>> = {
  'hash:ip': [/^[0-9a-f.:]+$/],
  'hash:ip,port': [/^[0-9a-f.:]+$/, /^(tcp|udp|sctp):\d+$/],
  'hash:ip,port,ip': [/^[0-9a-f.:]+$/, /^(tcp|udp|sctp):\d+$/, /^[0-9a-f.:]+$/],
  'hash:ip,port,net': [/^[0-9a-f.:]+$/, /^(tcp|udp|sctp):\d+$/, /^[0-9a-f.:]+(\/\d+)?$/],
};

/**
 * The kernel's ipsets in memory: applies `ipset restore` input with ipset's refusals and prints
 * `ipset save`. Like ipset, restore stops at the first refused line; the lines before it stay
 * applied. `inUse` tells whether a kernel component (an iptables rule) references a set.
 */
export class FakeIpsets {
  private readonly sets = new Map<string, IpSet>();

  constructor(private readonly inUse: (name: string) => boolean) {}

  has(name: string): boolean {
    return this.sets.has(name);
  }

  /** Applies the first `limit` lines (all by default); `exist` as `-exist`. */
  restore(input: string, exist: boolean, limit = Infinity): void {
    input.split('\n').filter((line) => line.trim() !== '').slice(0, limit).forEach((line, index) => {
      try {
        this.apply(line.trim().split(/\s+/), exist);
      } catch (error) {
        if (error instanceof Refusal) throw new Refusal(`ipset v7.17: Error in line ${index + 1}: ${error.message}`);
        throw error;
      }
    });
  }

  /** `ipset save [name]`. */
  save(only?: string): string {
    if (only !== undefined && !this.sets.has(only)) refuse('The set with the given name does not exist');
    const lines: string[] = [];
    for (const [name, set] of this.sets) {
      if (only !== undefined && name !== only) continue;
      lines.push(`create ${name} ${set.type} family ${set.family} ${set.options} bucketsize 12 initval 0x5c1a9d3e`);
      for (const entry of set.entries) lines.push(`add ${name} ${entry}`);
    }
    return lines.map((line) => `${line}\n`).join('');
  }

  /** `ipset list -t`: each set's header, without members, as ipset 7.17 prints it (a blank line between sets). */
  headers(): string {
    return [...this.sets].map(([name, set]) => [
      `Name: ${name}`,
      `Type: ${set.type}`,
      'Revision: 6',
      `Header: family ${set.family} ${set.options} bucketsize 12 initval 0x5c1a9d3e`,
      `Size in memory: ${200 + 40 * set.entries.size}`,
      `References: ${this.inUse(name) ? 1 : 0}`,
      `Number of entries: ${set.entries.size}`,
    ].map((line) => `${line}\n`).join('')).join('\n');
  }

  /** Sorted, for comparing two fakes. */
  dump(): string[] {
    return [...this.sets].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([name, set]) => [
      `set ${name} ${set.type} family ${set.family} ${set.options}`,
      ...[...set.entries].sort().map((entry) => `  ${entry}`),
    ]);
  }

  private apply([command, name = '', ...rest]: readonly string[], exist: boolean): void {
    const set = this.sets.get(name);
    const existing = (): IpSet => set ?? refuse('The set with the given name does not exist');
    switch (command) {
      case 'create': {
        const [type = '', familyWord, family = '', ...options] = rest;
        if (!ENTRY_PARTS[type] || familyWord !== 'family' || !['inet', 'inet6'].includes(family)) refuse(`Syntax error: cannot create ${rest.join(' ')}`);
        const wanted = { type, family, options: options.join(' ') };
        if (set) {
          const same = set.type === wanted.type && set.family === wanted.family && set.options === wanted.options;
          if (!exist || !same) refuse('Set cannot be created: set with the same name already exists');
          return;
        }
        this.sets.set(name, { ...wanted, entries: new Set() });
        return;
      }
      case 'add':
      case 'del': {
        const target = existing();
        const entry = rest[0] ?? refuse('Syntax error: an entry is missing');
        checkEntry(target, entry);
        if (command === 'add') {
          if (target.entries.has(entry) && !exist) refuse('Element cannot be added to the set: it\'s already added');
          target.entries.add(entry);
        } else {
          if (!target.entries.has(entry) && !exist) refuse('Element cannot be deleted from the set: it\'s not added');
          target.entries.delete(entry);
        }
        return;
      }
      case 'flush':
        existing().entries.clear();
        return;
      case 'swap': {
        const other = this.sets.get(rest[0] ?? '') ?? refuse('The set with the given name does not exist');
        const first = existing();
        if (first.type !== other.type || first.family !== other.family) refuse('The sets cannot be swapped: their type does not match');
        [first.entries, other.entries] = [other.entries, first.entries];
        return;
      }
      case 'destroy':
        existing();
        if (this.inUse(name)) refuse('Set cannot be destroyed: it is in use by a kernel component');
        this.sets.delete(name);
        return;
      default:
        refuse(`Syntax error: unknown command ${command}`);
    }
  }
}

/** An entry the set's type and family accept. */
function checkEntry(set: IpSet, entry: string): void {
  const parts = entry.split(',');
  const patterns = ENTRY_PARTS[set.type]!;
  const addresses = [parts[0], patterns.length === 3 ? parts[2] : undefined].filter((part) => part !== undefined);
  const familyOk = addresses.every((address) => address.includes(':') === (set.family === 'inet6'));
  if (parts.length !== patterns.length || !patterns.every((pattern, index) => pattern.test(parts[index]!)) || !familyOk) {
    refuse(`Syntax error: '${entry}' is not an entry of a ${set.type} set of family ${set.family}`);
  }
}
