import { canonicalIP, cidrContains, type PacketTrace, type TraceOutcome, type TracePacket, type TraceStep, type TraceVerdictKind } from '@kplane/core';

/** The rules of one family's nat and filter tables: chain → rules (`-A <chain> ` left off). */
export interface TracedTables {
  readonly nat: ReadonlyMap<string, readonly string[]>;
  readonly filter: ReadonlyMap<string, readonly string[]>;
}

interface PathState {
  readonly daddr: string;
  readonly dport: number;
  readonly dnat: boolean;
  readonly mark: number;
  readonly masquerade: boolean;
  readonly probability: number;
  readonly steps: readonly TraceStep[];
}

type End = 'continue' | 'next' | 'return' | TraceVerdictKind;
interface PathEnd { readonly state: PathState; readonly end: End; readonly why?: string }

/**
 * Follows one packet through kplane's iptables rules (as restore input or as iptables-save prints
 * them): -s/-d, -p and --dport, addrtype LOCAL, mark, statistic (probabilities), recent (affinity: a
 * first connection is assumed — the recent lists live in /proc/net/xt_recent, not in the rules),
 * conntrack NEW, and the MARK, DNAT, MASQUERADE, REJECT, DROP, ACCEPT, RETURN and chain targets. Any
 * other match or target ends its path as not understood.
 */
export function traceRules(tables: TracedTables, packet: TracePacket, input: PacketTrace['input']): PacketTrace {
  const tracer = new RuleTracer(tables, packet);
  const start: PathState = { daddr: packet.destination, dport: packet.port, dnat: false, mark: 0, masquerade: false, probability: 1, steps: [] };
  const hooks: [keyof TracedTables, string | ((state: PathState) => string)][] = packet.from === 'node'
    ? [['nat', 'OUTPUT'], ['filter', 'OUTPUT'], ['nat', 'POSTROUTING']]
    : [['nat', 'PREROUTING'], ['filter', (state) => (tracer.isLocal(state.daddr) ? 'INPUT' : 'FORWARD')], ['nat', 'POSTROUTING']];
  let paths: PathEnd[] = [{ state: start, end: 'continue' }];
  for (const [table, hook] of hooks) {
    paths = paths.flatMap((path) => {
      if (path.end !== 'continue' && path.end !== 'accept') return [path];
      const chain = typeof hook === 'string' ? hook : hook(path.state);
      return tracer.chain(table, chain, path.state, 0).map((end) => ({ ...end, why: end.why ?? path.why, end: ['accept', 'return', 'next'].includes(end.end) ? 'continue' as const : end.end }));
    });
  }
  return { backend: 'iptables', input, packet, outcomes: paths.map(outcome) };
}

function outcome({ state, end, why }: PathEnd): TraceOutcome {
  const verdict: TraceVerdictKind = end === 'continue' || end === 'accept' ? (state.dnat ? 'dnat' : 'accept') : end as TraceVerdictKind;
  const endpoint = verdict === 'dnat' ? (state.daddr.includes(':') ? `[${state.daddr}]:${state.dport}` : `${state.daddr}:${state.dport}`) : undefined;
  return { verdict, probability: state.probability, endpoint, masquerade: state.masquerade, why: why ?? (verdict === 'dnat' ? 'an endpoint of the service port' : 'no kplane rule matched it'), steps: state.steps };
}

class RuleTracer {
  constructor(private readonly tables: TracedTables, private readonly packet: TracePacket) {}

  isLocal(address: string): boolean {
    return this.packet.localAddresses.some((local) => canonicalIP(local) === address) || address === '::1' || address.startsWith('127.');
  }

  chain(table: keyof TracedTables, name: string, state: PathState, depth: number): PathEnd[] {
    const rules = this.tables[table].get(name);
    if (!rules) return [{ state, end: 'continue' }];
    if (depth > 32) return [{ state, end: 'not-understood', why: 'chains nest deeper than kplane writes' }];
    return this.from(table, name, rules, 0, state, depth);
  }

  private from(table: keyof TracedTables, name: string, rules: readonly string[], index: number, state: PathState, depth: number): PathEnd[] {
    if (index >= rules.length) return [{ state, end: 'continue' }];
    return this.rule(table, name, rules[index]!, state, depth).flatMap((result) => {
      if (result.end === 'next') return this.from(table, name, rules, index + 1, result.state, depth);
      if (result.end === 'return') return [{ ...result, end: 'continue' as const }];
      return [result];
    });
  }

  private rule(table: keyof TracedTables, chain: string, rule: string, state: PathState, depth: number): PathEnd[] {
    const words = rule.match(/"[^"]*"|\S+/g) ?? [];
    const step = (s: PathState, note: string): PathState => ({ ...s, steps: [...s.steps, { where: `${table} ${chain}`, rule, note }] });
    const notUnderstood: PathEnd[] = [{ state: step(state, 'not understood'), end: 'not-understood', why: `rule not understood: ${rule}` }];
    let share = 1;
    let i = 0;
    const next = () => words[i++];
    let target: string | undefined;
    const targetArgs: string[] = [];
    while (i < words.length) {
      let word = next()!;
      let negated = false;
      if (word === '!') {
        negated = true;
        word = next()!;
      }
      let matched: boolean;
      switch (word) {
        case '-s': case '-d': {
          const cidr = next()!;
          const address = word === '-s' ? this.packet.source : state.daddr;
          matched = address.includes(':') === cidr.includes(':') && cidrContains(cidr.includes('/') ? cidr : `${cidr}/${cidr.includes(':') ? 128 : 32}`, address);
          break;
        }
        case '-p': matched = next()!.toUpperCase() === this.packet.protocol; break;
        case '--dport': {
          const [low, high = low] = next()!.split(':').map(Number);
          matched = state.dport >= low! && state.dport <= high!;
          break;
        }
        case '-m': {
          const module = next()!;
          if (['tcp', 'udp', 'sctp', 'comment', 'addrtype', 'mark', 'statistic', 'recent', 'conntrack'].includes(module)) continue;
          return notUnderstood;
        }
        case '--comment': next(); continue;
        case '--dst-type': matched = next() === 'LOCAL' && this.isLocal(state.daddr); break;
        case '--src-type': matched = next() === 'LOCAL' && this.packet.from === 'node'; break;
        case '--ctstate': matched = next()!.split(',').includes('NEW'); break;
        case '--mark': {
          const [value, mask = '0xffffffff'] = next()!.split('/');
          matched = (state.mark & Number(mask)) === Number(value);
          break;
        }
        case '--mode': if (next() !== 'random') return notUnderstood; continue;
        case '--probability': share = Number(next()); continue;
        case '--name': next(); continue;
        case '--set': continue;
        case '--rcheck': matched = false; break; // a first connection: no recent entry yet
        case '--seconds': next(); continue;
        case '--reap': case '--rsource': continue;
        case '--mask': next(); continue;
        case '-j': target = next(); while (i < words.length) targetArgs.push(next()!); continue;
        default: return notUnderstood;
      }
      if (negated) matched = !matched;
      if (!matched) return [{ state, end: 'next' }];
    }
    if (!target) return [{ state, end: 'next' }];
    const taken = share === 1 ? state : { ...state, probability: state.probability * share };
    const missed: PathEnd[] = share === 1 ? [] : [{ state: { ...state, probability: state.probability * (1 - share) }, end: 'next' }];
    return [...this.target(table, chain, target, targetArgs, taken, step, depth, share), ...missed];
  }

  private target(table: keyof TracedTables, chain: string, target: string, args: readonly string[], state: PathState, step: (s: PathState, note: string) => PathState, depth: number, share: number): PathEnd[] {
    const chance = share === 1 ? '' : ` (probability ${share})`;
    switch (target) {
      case 'RETURN': return [{ state: step(state, 'returns'), end: 'return' }];
      case 'ACCEPT': return [{ state: step(state, 'accepts'), end: 'accept' }];
      case 'DROP': return [{ state: step(state, 'drops'), end: 'drop', why: reasonOf(state) }];
      case 'REJECT': return [{ state: step(state, 'rejects'), end: 'reject', why: reasonOf(state) }];
      case 'MASQUERADE': return [{ state: { ...step(state, 'masquerades'), masquerade: true }, end: 'accept' }];
      case 'MARK': {
        // iptables-save prints --or-mark V as --set-xmark V/V: mark = (mark & ~mask) ^ value.
        const [how, text = ''] = args;
        const [value, mask] = text.split('/').map(Number) as [number, number | undefined];
        const xmark = how === '--or-mark' ? [value, value] : how === '--xor-mark' ? [value, 0] : how === '--set-xmark' ? [value, mask ?? 0xffffffff] : null;
        if (!xmark || Number.isNaN(value)) return [{ state: step(state, 'not understood'), end: 'not-understood', why: `MARK ${args.join(' ')}` }];
        return [{ state: { ...step(state, `mark ${how} ${text}`), mark: ((state.mark & ~xmark[1]!) ^ xmark[0]!) >>> 0 }, end: 'next' }];
      }
      case 'DNAT': {
        const to = /^\[?([^\]]+?)\]?:(\d+)$/.exec(args[1] ?? '');
        if (args[0] !== '--to-destination' || !to) return [{ state: step(state, 'not understood'), end: 'not-understood', why: `DNAT ${args.join(' ')}` }];
        const address = canonicalIP(to[1]!) ?? to[1]!;
        return [{ state: { ...step(state, `DNAT to ${args[1]}${chance}`), daddr: address, dport: Number(to[2]), dnat: true }, end: 'accept' }];
      }
      default: {
        if (!this.tables[table].has(target)) return [{ state: step(state, 'not understood'), end: 'not-understood', why: `target ${target}` }];
        return this.chain(table, target, step(state, chance.trim()), depth + 1).map((end) => (end.end === 'continue' ? { ...end, end: 'next' as const } : end));
      }
    }
  }
}

/** Why a packet is refused, from the chains it passed (kplane's names). */
function reasonOf(state: PathState): string {
  const chains = state.steps.map((step) => step.rule);
  if (chains.some((rule) => rule.includes('KPLANE-FW-'))) return 'the source is outside the service\'s loadBalancerSourceRanges';
  if (chains.some((rule) => /^-d \S+ -j KPLANE-REJECT$/.test(rule))) return 'a cluster IP on a port no service has';
  if (chains.some((rule) => rule.endsWith('-j KPLANE-REJECT'))) return 'the service port has no endpoint';
  if (chains.some((rule) => rule.endsWith('-j KPLANE-DROP'))) return 'no endpoint usable here, or an address of a service CIDR no service has';
  return 'a rule of kplane\'s';
}
