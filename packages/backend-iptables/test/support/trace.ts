import { cidrContains } from '@kplane/core';
import { tokenize } from '../../src/client/rule-text.js';

/** The first packet of a connection, as far as kplane's dispatch chains look at it. */
export interface Packet {
  readonly destination: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly port: number;
  /** The destination is one of the node's own addresses (`-m addrtype --dst-type LOCAL`). */
  readonly local?: boolean;
}

export interface Trace {
  /** Chains entered, in order, starting with `from`. */
  readonly entered: readonly string[];
  /** The first jump out of the dispatch chains (a service, external or reject chain), or null when the packet fell through. */
  readonly verdict: string | null;
  /** Rules evaluated on the way. */
  readonly rules: number;
}

/** Chains that only dispatch: the tracer follows them; a jump anywhere else is the verdict. */
const DISPATCH = /^KPLANE-(SERVICES|IPS(-\d+)?|NODEPORTS|NP-(TCP|UDP|SCTP)(-\d+)?)$/;

/**
 * Walks a packet through kplane's dispatch chains as the kernel would (first matching rule, jumps,
 * return at a chain's end), understanding exactly the matches those chains use; any other match
 * fails the test rather than being guessed.
 */
export function trace(chains: ReadonlyMap<string, readonly string[]>, packet: Packet, from = 'KPLANE-SERVICES'): Trace {
  const entered: string[] = [];
  let rules = 0;
  const walk = (chain: string): string | null => {
    entered.push(chain);
    const body = chains.get(chain);
    if (!body) throw new Error(`jump to missing chain ${chain}`);
    for (const rule of body) {
      rules++;
      const words = tokenize(rule);
      const target = words[words.indexOf('-j') + 1]!;
      if (!matches(words.slice(0, words.indexOf('-j')), packet)) continue;
      if (!DISPATCH.test(target)) return target;
      const verdict = walk(target);
      if (verdict) return verdict;
    }
    return null;
  };
  return { entered, verdict: walk(from), rules };
}

function matches(words: readonly string[], packet: Packet): boolean {
  for (let index = 0; index < words.length; index++) {
    const negate = words[index] === '!';
    if (negate) index++;
    const [option, value] = [words[index], words[index + 1]];
    index++;
    let result: boolean;
    switch (option) {
      case '-d': result = cidrContains(value!, packet.destination); break;
      case '-p': result = packet.protocol === value; break;
      case '-m': result = ['tcp', 'udp', 'sctp', 'addrtype'].includes(value!) ? true : unknown(`-m ${value}`); break;
      case '--dport': result = inRange(packet.port, value!); break;
      case '--dst-type': result = value === 'LOCAL' && packet.local === true; break;
      default: result = unknown(option!);
    }
    if (result === negate) return false;
  }
  return true;
}

function unknown(option: string): never {
  throw new Error(`the tracer does not know ${option}`);
}

function inRange(port: number, range: string): boolean {
  const [first, last = first] = range.split(':').map(Number);
  return port >= first! && port <= last!;
}
