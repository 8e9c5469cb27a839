import type { Protocol } from '../model/service-port.js';

/** Where a traced packet starts: the node itself (nat output), a pod, or outside the cluster (both prerouting). */
export type TraceOrigin = 'node' | 'pod' | 'external';

/** The first packet of one new connection, as `kplane trace` follows it. */
export interface TracePacket {
  readonly source: string;
  readonly destination: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly from: TraceOrigin;
  /** The node's own addresses: what `fib daddr type local` / `-m addrtype --dst-type LOCAL` match. */
  readonly localAddresses: readonly string[];
}

/** One rule, map element or virtual server the packet hit, and what it did. */
export interface TraceStep {
  /** The chain, map or virtual server, as the backend names it. */
  readonly where: string;
  /** The rule or element text as the backend holds it. */
  readonly rule: string;
  readonly note: string;
}

/** How one path through the rules ends. `accept`: kplane's rules let it pass untouched (not ours). */
export type TraceVerdictKind = 'dnat' | 'reject' | 'drop' | 'accept' | 'not-understood';

export interface TraceOutcome {
  readonly verdict: TraceVerdictKind;
  /** The chance of this path: numgen / statistic / scheduler weights; 1 when nothing is random. */
  readonly probability: number;
  /** For `dnat`: the endpoint, `ip:port` (`[ip]:port` for IPv6). */
  readonly endpoint?: string;
  /** Whether the packet leaves with the node's address as its source. */
  readonly masquerade: boolean;
  /** Why it ends so, in a few words. */
  readonly why: string;
  /** Every step on this path, in order. */
  readonly steps: readonly TraceStep[];
}

/** Every path the packet can take through one backend's rules (several when an endpoint is drawn at random). */
export interface PacketTrace {
  readonly backend: string;
  /** Where the rules were read from: the live kernel or the planned batches. */
  readonly input: 'kernel' | 'plan';
  readonly packet: TracePacket;
  readonly outcomes: readonly TraceOutcome[];
}

/** A trace as `kplane trace` prints it: the steps all paths share, then each path's own steps and its verdict. */
export function renderTrace(trace: PacketTrace): string {
  const { packet, outcomes } = trace;
  const lines = [`${packet.protocol} ${packet.source} -> ${hostPort(packet.destination, packet.port)} from ${packet.from} (${trace.backend}, rules from the ${trace.input})`];
  const shared = sharedSteps(outcomes.map((outcome) => outcome.steps));
  const step = (indent: string, { where, rule, note }: TraceStep) => `${indent}${where}: ${rule}${note ? `  # ${note}` : ''}`;
  for (const item of shared) lines.push(step('  ', item));
  for (const outcome of outcomes) {
    lines.push(`  => ${verdictText(outcome)}`);
    for (const item of outcome.steps.slice(shared.length)) lines.push(step('       ', item));
  }
  return `${lines.join('\n')}\n`;
}

function verdictText(outcome: TraceOutcome): string {
  const chance = outcome.probability === 1 ? '' : ` (p=${Number(outcome.probability.toFixed(4))})`;
  const what = {
    dnat: `DNAT to ${outcome.endpoint}${outcome.masquerade ? ', masqueraded' : ', not masqueraded'}`,
    reject: 'REJECT',
    drop: 'DROP',
    accept: `not ours (kplane's rules let it pass)${outcome.masquerade ? ', masqueraded' : ''}`,
    'not-understood': 'not understood',
  }[outcome.verdict];
  return `${what}${chance}: ${outcome.why}`;
}

function sharedSteps(paths: readonly (readonly TraceStep[])[]): readonly TraceStep[] {
  const [first = [], ...rest] = paths;
  if (rest.length === 0) return first;
  let length = 0;
  while (length < first.length && rest.every((steps) => sameStep(steps[length], first[length]!))) length++;
  return first.slice(0, length);
}

function sameStep(a: TraceStep | undefined, b: TraceStep): boolean {
  return a !== undefined && a.where === b.where && a.rule === b.rule && a.note === b.note;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
