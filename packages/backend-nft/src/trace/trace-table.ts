import { canonicalIP, cidrContains, type PacketTrace, type TraceOutcome, type TracePacket, type TraceStep, type TraceVerdictKind } from '@kplane/core';
import type { ListedSet, TableListing } from '../client/listing.js';
import type { NftFamily } from '../client/transaction.js';

/**
 * The hooks a new connection passes, in priority order (layout.ts's base chains): locally
 * originated traffic goes through output, the rest through prerouting, then input or forward.
 */
const HOOK_ORDER = {
  node: ['filter-output', 'nat-output', 'filter-output-post-dnat', 'nat-postrouting'],
  routed: ['filter-prerouting', 'nat-prerouting', 'route', 'nat-postrouting'],
} as const;

/** A packet on one path through the rules: what the rules did to it so far. */
interface PathState {
  readonly daddr: string;
  readonly dport: number;
  readonly dnat: boolean;
  readonly mark: number;
  readonly masquerade: boolean;
  readonly probability: number;
  readonly steps: readonly TraceStep[];
}

/** How a chain ended for one path: fell through (the base chain's policy: accept) or a final verdict. */
interface ChainEnd {
  readonly state: PathState;
  readonly end: 'continue' | 'accept' | TraceVerdictKind;
  readonly why?: string;
}

/** Why a path ended in a chain of kplane's layout (layout.ts's names, generation suffix removed). */
const CHAIN_REASONS: Readonly<Record<string, string>> = {
  'service-endpoints-check': 'the service port has no endpoint (rejected) or none usable here (dropped)',
  'nodeport-endpoints-check': 'the node port has no endpoint (rejected) or none usable here (dropped)',
  'cluster-ips-check': 'a cluster IP on a port no service has (rejected), or an address of a service CIDR no service has (dropped)',
  'firewall-check': 'the source is outside the service\'s loadBalancerSourceRanges',
  'external-local': 'externalTrafficPolicy Local and no endpoint on this node',
  'nodeport-local': 'externalTrafficPolicy Local and no endpoint on this node',
};

/**
 * Follows one packet through kplane's nft tables as listed (the kernel's spelling) or as planned
 * (kplane's own spelling): the few expressions kplane writes — addresses, protocols, ports, sets,
 * maps and verdict maps over concatenations, marks, fib local, numgen, dnat, masquerade. A rule
 * with anything else ends its path as not understood.
 */
export function traceTable(tables: Readonly<Record<NftFamily, TableListing | null>>, packet: TracePacket, input: PacketTrace['input']): PacketTrace {
  const family: NftFamily = packet.destination.includes(':') ? 'ip6' : 'ip';
  const table = tables[family];
  const start: PathState = { daddr: canonicalIP(packet.destination) ?? packet.destination, dport: packet.port, dnat: false, mark: 0, masquerade: false, probability: 1, steps: [] };
  if (!table) return { backend: 'nft', input, packet, outcomes: [outcome({ state: start, end: 'accept', why: `no ${family} kplane table` })] };
  const tracer = new TableTracer(table, family, packet);
  let paths: ChainEnd[] = [{ state: start, end: 'continue' }];
  for (const hook of HOOK_ORDER[packet.from === 'node' ? 'node' : 'routed']) {
    paths = paths.flatMap((path) => {
      if (path.end !== 'continue' && path.end !== 'accept') return [path];
      const name = hook === 'route' ? (tracer.isLocal(path.state.daddr) ? 'filter-input' : 'filter-forward') : hook;
      if (!table.chains.has(name)) return [path];
      return tracer.chain(name, { ...path.state, steps: [...path.state.steps, { where: 'hook', rule: name, note: '' }] }, 0).map((end) => ({ ...end, why: end.why ?? path.why, end: end.end === 'accept' ? 'continue' as const : end.end }));
    });
  }
  return { backend: 'nft', input, packet, outcomes: paths.map(outcome) };
}

function outcome({ state, end, why }: ChainEnd): TraceOutcome {
  const verdict: TraceVerdictKind = end === 'continue' || end === 'accept' ? (state.dnat ? 'dnat' : 'accept') : end;
  const endpoint = verdict === 'dnat' ? (state.daddr.includes(':') ? `[${state.daddr}]:${state.dport}` : `${state.daddr}:${state.dport}`) : undefined;
  const reason = why ?? (verdict === 'dnat' ? 'an endpoint of the service port' : 'no kplane rule matched it');
  return { verdict, probability: state.probability, endpoint, masquerade: state.masquerade, why: reason, steps: state.steps };
}

/** A concatenation component kplane writes and its value for the packet. */
type KeyPart = { readonly kind: 'value'; readonly value: string } | { readonly kind: 'numgen'; readonly modulus: number };

class TableTracer {
  constructor(private readonly table: TableListing, private readonly family: NftFamily, private readonly packet: TracePacket) {}

  isLocal(address: string): boolean {
    return this.packet.localAddresses.some((local) => canonicalIP(local) === address) || address === '::1' || address.startsWith('127.');
  }

  /** Runs a chain from rule `from` on; `depth` guards against loops in tampered tables. */
  chain(name: string, state: PathState, depth: number): ChainEnd[] {
    const rules = this.table.chains.get(name)?.rules;
    if (!rules || depth > 32) return [{ state, end: 'not-understood', why: rules ? 'chains nest deeper than kplane writes' : `no chain ${name}` }];
    return this.rulesFrom(name, rules, 0, state, depth);
  }

  private rulesFrom(name: string, rules: readonly string[], index: number, state: PathState, depth: number): ChainEnd[] {
    if (index >= rules.length) return [{ state, end: 'continue' }];
    const rule = rules[index]!;
    const step = (note: string): PathState => ({ ...state, steps: [...state.steps, { where: `chain ${name}`, rule, note }] });
    const results = this.rule(rule, state, step, depth, name);
    return results.flatMap((result) => {
      if (result.end === 'next') return this.rulesFrom(name, rules, index + 1, result.state, depth);
      if (result.end === 'return') return [{ state: result.state, end: 'continue' as const }];
      return [result as ChainEnd];
    });
  }

  /** One rule: its matches left to right, then its statement. */
  private rule(rule: string, state: PathState, step: (note: string) => PathState, depth: number, chainName: string): (ChainEnd | { state: PathState; end: 'next' | 'return' })[] {
    let rest = rule;
    const notUnderstood = (): ChainEnd[] => [{ state: step('not understood'), end: 'not-understood', why: `rule not understood: ${rule}` }];
    for (;;) {
      const match = this.match(rest, state);
      if (match === null) break;
      if (match.matched === 'unknown') return notUnderstood();
      if (!match.matched) return [{ state, end: 'next' }];
      rest = match.rest;
    }
    // Statements.
    const mark = /^meta mark set meta mark ([|^]) (0x[0-9a-f]+)$/.exec(rest);
    if (mark) {
      const bit = Number.parseInt(mark[2]!, 16);
      return [{ state: { ...step(mark[1] === '|' ? 'sets the masquerade mark' : 'clears the mark'), mark: mark[1] === '|' ? state.mark | bit : state.mark ^ bit }, end: 'next' }];
    }
    const jump = /^(jump|goto) (\S+)$/.exec(rest);
    if (jump) return this.enter(jump[1] as 'jump' | 'goto', jump[2]!, step(''), depth);
    if (rest === 'return') return [{ state: step('returns'), end: 'return' }];
    if (rest === 'accept') return [{ state: step('accepts'), end: 'accept' }];
    if (rest === 'drop') return [{ state: step('drops'), end: 'drop', why: reason(chainName) }];
    if (/^reject( with .*)?$/.test(rest)) {
      // The kernel lists `meta l4proto tcp reject with tcp reset` as `reject with tcp reset`: TCP only.
      if (/tcp reset$/.test(rest) && this.packet.protocol !== 'TCP') return [{ state, end: 'next' }];
      return [{ state: step('rejects'), end: 'reject', why: reason(state.steps.map((s) => s.where)) }];
    }
    if (/^masquerade( fully-random)?$/.test(rest)) return [{ state: { ...step('masquerades'), masquerade: true }, end: 'accept' }];
    if (/^update @\S+ \{ (ip|ip6) saddr \}$/.test(rest)) return [{ state: step('remembers the client for affinity'), end: 'next' }];
    const dnatTo = /^dnat (?:(?:ip|ip6) )?to (\[[^\]]+\]|[^\s:]+):(\d+)$/.exec(rest);
    if (dnatTo) return [{ state: this.dnat(step(`DNAT to ${dnatTo[1]}:${dnatTo[2]}`), dnatTo[1]!.replace(/^\[|\]$/g, ''), Number(dnatTo[2])), end: 'accept', why: 'the endpoint this chain stands for' }];
    const lookup = /^(?:(dnat) (?:(?:ip|ip6) )?to )?(.+?) (vmap|map) (@\S+|\{ .* \})$/.exec(rest);
    if (lookup) return this.lookup(lookup[2]!, lookup[3] as 'vmap' | 'map', lookup[4]!, lookup[1] === 'dnat', state, depth, rule, chainName) ?? notUnderstood();
    return notUnderstood();
  }

  private enter(how: 'jump' | 'goto', target: string, state: PathState, depth: number): (ChainEnd | { state: PathState; end: 'next' | 'return' })[] {
    return this.chain(target, state, depth + 1).map((end) => {
      if (end.end !== 'continue') return end;
      // A jumped-to chain that ends returns to the rule after the jump; a goto returns to the caller's caller.
      return { state: end.state, end: how === 'jump' ? 'next' as const : 'return' as const };
    });
  }

  private dnat(state: PathState, address: string, port: number): PathState {
    return { ...state, daddr: canonicalIP(address) ?? address, dport: port, dnat: true };
  }

  /** A map or verdict map lookup, forked over numgen's slots: null when its key is not understood. */
  private lookup(keyText: string, kind: 'vmap' | 'map', target: string, dnat: boolean, state: PathState, depth: number, rule: string, chainName: string): (ChainEnd | { state: PathState; end: 'next' | 'return' })[] | null {
    const key = this.key(keyText, state);
    if (!key) return null;
    const elements = target.startsWith('@') ? this.table.sets.get(target.slice(1))?.elements : inlineElements(target);
    if (!elements) return null;
    const where = target.startsWith('@') ? `map ${target.slice(1)}` : `chain ${chainName}`;
    return keyValues(key).flatMap(({ values, share }) => {
      const found = findElement(elements, values);
      const forked: PathState = { ...state, probability: state.probability * share };
      const note = (text: string) => ({ ...forked, steps: [...state.steps, { where, rule: found ? `${found[0]} : ${found[1]}` : rule, note: text }] });
      if (!found) return [{ state: forked, end: 'next' as const }];
      const value = found[1] ?? '';
      if (kind === 'map') {
        const endpoint = /^(\S+) \. (\d+)$/.exec(value);
        if (!dnat || !endpoint) return [{ state: note('not understood'), end: 'not-understood' as const, why: `map value not understood: ${value}` }];
        const chance = share === 1 ? '' : ` (slot ${values.at(-1)} of ${1 / share})`;
        return [{ state: this.dnat(note(`DNAT to ${endpoint[1]}:${endpoint[2]}${chance}`), endpoint[1]!, Number(endpoint[2])), end: 'accept' as const, why: `endpoint slot ${values.at(-1)} of the service port's ${Math.round(1 / share)}` }];
      }
      const verdict = /^(jump|goto) (\S+)$/.exec(value);
      if (verdict) return this.enter(verdict[1] as 'jump' | 'goto', verdict[2]!, note(share === 1 ? '' : `slot ${values.at(-1)}`), depth);
      if (value === 'drop') return [{ state: note('drops'), end: 'drop' as const, why: reason(where) }];
      if (value === 'accept') return [{ state: note('accepts'), end: 'accept' as const }];
      return [{ state: note('not understood'), end: 'not-understood' as const, why: `verdict not understood: ${value}` }];
    });
  }

  /** The value of a concatenation (`ip daddr . meta l4proto . th dport . numgen random mod 2`), or null. */
  private key(text: string, state: PathState): KeyPart[] | null {
    const parts: KeyPart[] = [];
    for (const part of text.split(' . ')) {
      const numgen = /^numgen random mod (\d+)$/.exec(part);
      if (numgen) parts.push({ kind: 'numgen', modulus: Number(numgen[1]) });
      else if (part === `${this.family} daddr`) parts.push({ kind: 'value', value: state.daddr });
      else if (part === `${this.family} saddr`) parts.push({ kind: 'value', value: this.source });
      else if (part === 'meta l4proto') parts.push({ kind: 'value', value: this.packet.protocol.toLowerCase() });
      else if (/^(th|tcp|udp|sctp) dport$/.test(part)) parts.push({ kind: 'value', value: String(state.dport) });
      else return null;
    }
    return parts;
  }

  private get source(): string {
    return canonicalIP(this.packet.source) ?? this.packet.source;
  }

  /**
   * One match at the start of `text`: null when `text` starts with no match (a statement comes),
   * else whether it matched ('unknown': a match kplane does not write) and what follows it.
   */
  private match(text: string, state: PathState): { matched: boolean | 'unknown'; rest: string } | null {
    const fixed: [string, () => boolean][] = [
      ['ct state new ', () => true],
      ['ct status dnat ', () => state.dnat],
      ['fib saddr type local ', () => this.packet.from === 'node'],
      ['fib daddr type local ', () => this.isLocal(state.daddr)],
      [`meta l4proto ${this.packet.protocol.toLowerCase()} `, () => true],
    ];
    for (const [prefix, test] of fixed) if (text.startsWith(prefix)) return { matched: test(), rest: text.slice(prefix.length) };
    const otherProtocol = /^meta l4proto (tcp|udp|sctp) (?=\S)/.exec(text);
    if (otherProtocol) return { matched: false, rest: text.slice(otherProtocol[0].length) };
    const mark = /^meta mark & (0x[0-9a-f]+) == (0x[0-9a-f]+|0) (?=\S)/.exec(text);
    if (mark) return { matched: (state.mark & Number.parseInt(mark[1]!, 16)) === Number.parseInt(mark[2]!, 16), rest: text.slice(mark[0].length) };
    // key [!=] (@set | { a, b } | value), followed by more.
    const comparison = /^((?:[\w]+ [\w]+|numgen random mod \d+)(?: \. (?:[\w]+ [\w]+))*) (!= )?(@\S+|\{ [^}]* \}|[0-9a-f:][0-9a-f.:/]*) (?=\S)/.exec(text);
    if (!comparison) return null;
    const key = this.key(comparison[1]!, state);
    if (!key || key.some((part) => part.kind !== 'value')) return { matched: 'unknown', rest: '' };
    const values = key.map((part) => (part as { value: string }).value);
    const target = comparison[3]!;
    let elements: ReadonlyMap<string, string | undefined> | undefined;
    if (target.startsWith('@')) elements = this.table.sets.get(target.slice(1))?.elements;
    else elements = new Map(target.replace(/^\{ | \}$/g, '').split(', ').map((item) => [item.trim(), undefined]));
    if (!elements) return { matched: 'unknown', rest: '' };
    const found = findElement(elements, values) !== undefined;
    return { matched: comparison[2] ? !found : found, rest: text.slice(comparison[0].length) };
  }
}

/** Every value of a key: one, or one per numgen slot, each with its share of the traffic. */
function keyValues(key: readonly KeyPart[]): { values: string[]; share: number }[] {
  let combos: { values: string[]; share: number }[] = [{ values: [], share: 1 }];
  for (const part of key) {
    combos = part.kind === 'value'
      ? combos.map((combo) => ({ values: [...combo.values, part.value], share: combo.share }))
      : combos.flatMap((combo) => Array.from({ length: part.modulus }, (_, slot) => ({ values: [...combo.values, String(slot)], share: combo.share / part.modulus })));
  }
  return combos;
}

/** The element whose key matches the values, component by component (a CIDR component contains its value). */
function findElement(elements: ReadonlyMap<string, string | undefined>, values: readonly string[]): [string, string | undefined] | undefined {
  for (const [key, value] of elements) {
    // A dynamic set's element is listed with its timeout: `10.244.9.2 timeout 10m expires 9m58s`.
    const parts = key.replace(/ (timeout|expires) .*$/, '').split(' . ');
    if (parts.length === values.length && parts.every((part, index) => componentMatches(part, values[index]!))) return [key, value];
  }
  return undefined;
}

function componentMatches(element: string, value: string): boolean {
  if (element === value) return true;
  if (element.includes('/') && canonicalIP(value)) {
    try {
      return cidrContains(element, value);
    } catch {
      return false;
    }
  }
  return canonicalIP(element) !== null && canonicalIP(element) === canonicalIP(value);
}

/** `{ 0 : goto a, 1 : goto b }` as elements. */
function inlineElements(text: string): ListedSet['elements'] {
  return new Map(text.replace(/^\{ | \}$/g, '').split(', ').map((item) => {
    const colon = item.indexOf(' : ');
    return [item.slice(0, colon).trim(), item.slice(colon + 3).trim()] as [string, string];
  }));
}

/** Why a chain (or the last of a path's places) refuses a packet, in the words of kplane's layout. */
function reason(where: string | readonly string[]): string {
  const places = typeof where === 'string' ? [where] : [...where].reverse();
  for (const place of places) {
    const base = place.replace(/^(chain|map) /, '').replace(/-g\d+$/, '');
    if (base === 'no-endpoint-services' || base === 'no-endpoint-nodeports') return 'the service port has no endpoint';
    if (CHAIN_REASONS[base]) return CHAIN_REASONS[base];
  }
  return `a rule in ${places[0] ?? 'kplane\'s table'}`;
}
