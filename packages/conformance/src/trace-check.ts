import { execa } from 'execa';
import { canonicalIP, renderTrace, type DataplaneBackend, type PacketTrace, type TraceOrigin } from '@kplane/core';
import type { NamespaceAgent, ProbeResult } from './sandbox/agent.js';
import { SANDBOX_NETWORK, type Sandbox } from './sandbox/sandbox.js';

/** Every address of the node namespace: what `fib daddr type local` matches there. */
const NODE_ADDRESSES = [
  ...SANDBOX_NETWORK.nodeIPs, SANDBOX_NETWORK.bridge.ipv4, SANDBOX_NETWORK.bridge.ipv6, '192.168.51.1', 'fd00:51::1',
];

/** How many probes a trace predicted (agreed), and how many it could not be compared with (unchecked: another error). */
export interface TraceTally {
  agreed: number;
  unchecked: number;
}

/**
 * "Trace first, then probe": for a backend with a tracer, every TCP and UDP probe of the sandbox's
 * agents is traced on the live rules just before it is sent, and its result must be one the trace
 * predicted — answered by a DNAT candidate (masqueraded as predicted), refused where it said REJECT,
 * timed out where it said DROP, answered untouched where it said "not ours". A disagreement fails
 * the probe with the trace.
 */
export function checkProbesByTrace(sandbox: Sandbox, backend: () => DataplaneBackend, tally: TraceTally): void {
  const agents: [NamespaceAgent, TraceOrigin, { ipv4: string; ipv6: string } | null][] = [
    [sandbox.client, 'pod', SANDBOX_NETWORK.client],
    [sandbox.external, 'external', SANDBOX_NETWORK.external],
    [sandbox.outsider, 'external', SANDBOX_NETWORK.outsider],
    [sandbox.node, 'node', null],
    ...[...sandbox.pods.values()].map((pod) => [pod.agent, 'pod', pod] as [NamespaceAgent, TraceOrigin, { ipv4: string; ipv6: string }]),
  ];
  for (const [agent, from, addresses] of agents) {
    const probe = async (protocol: 'TCP' | 'UDP', host: string, port: number, send: () => Promise<ProbeResult>): Promise<ProbeResult> => {
      const tracer = backend();
      const destination = canonicalIP(host);
      if (!tracer.trace || !destination) return send();
      const source = addresses ? (destination.includes(':') ? addresses.ipv6 : addresses.ipv4) : await routeSource(agent.namespace, destination);
      if (!source) return send();
      const trace = await tracer.trace({ source, destination, port, protocol, from, localAddresses: NODE_ADDRESSES });
      const result = await send();
      const disagreement = compare(sandbox, trace, result, from);
      if (disagreement === undefined) tally.unchecked++;
      else if (disagreement === '') tally.agreed++;
      else throw new Error(`the trace did not predict the traffic: ${disagreement}\n${renderTrace(trace)}`);
      return result;
    };
    const tcp = agent.tcp.bind(agent);
    const udp = agent.udp.bind(agent);
    agent.tcp = (host, port, options) => probe('TCP', host, port, () => tcp(host, port, options));
    agent.udp = (host, port, options) => probe('UDP', host, port, () => udp(host, port, options));
  }
}

/** '' when the trace predicted `result`, why not otherwise, undefined when the result says too little to compare. */
function compare(sandbox: Sandbox, trace: PacketTrace, result: ProbeResult, from: TraceOrigin): string | undefined {
  const verdicts = new Set(trace.outcomes.map((outcome) => outcome.verdict));
  if (verdicts.has('not-understood')) return 'a rule was not understood';
  if (!result.ok) {
    if (result.error === 'ECONNREFUSED') return verdicts.has('reject') ? '' : `refused, the trace said ${[...verdicts].join('/')}`;
    if (result.error === 'TIMEOUT') return verdicts.has('drop') ? '' : `timed out, the trace said ${[...verdicts].join('/')}`;
    return undefined;
  }
  const { answer } = result;
  const pod = sandbox.pods.get(answer.pod);
  if (!pod) return verdicts.has('accept') ? '' : `answered by ${answer.pod} (not a kit pod), the trace said ${[...verdicts].join('/')}`;
  const v6 = trace.packet.destination.includes(':');
  const endpoint = v6 ? `[${pod.ipv6}]:${answer.port}` : `${pod.ipv4}:${answer.port}`;
  const candidate = trace.outcomes.find((outcome) => outcome.verdict === 'dnat' && outcome.endpoint === endpoint);
  if (!candidate) {
    // Reached without DNAT (a pod's own address): what the trace calls not ours.
    if (verdicts.has('accept') && canonicalIP(v6 ? pod.ipv6 : pod.ipv4) === trace.packet.destination) return '';
    return `answered by ${endpoint}, not a candidate of the trace`;
  }
  // From the node itself the source may stay the same address when masqueraded: only routed probes say.
  if (from !== 'node' && candidate.masquerade !== (canonicalIP(answer.from.replace(/^::ffff:/, '')) !== trace.packet.source)) {
    return `${endpoint} saw ${answer.from}: the trace said ${candidate.masquerade ? '' : 'not '}masqueraded`;
  }
  return '';
}

/** The source address the node namespace picks for `destination` (`ip route get`), or null. */
async function routeSource(namespace: string, destination: string): Promise<string | null> {
  const { stdout, exitCode } = await execa('ip', ['netns', 'exec', namespace, 'ip', '-j', 'route', 'get', destination], { reject: false });
  if (exitCode !== 0) return null;
  const [route] = JSON.parse(stdout) as { prefsrc?: string }[];
  return route?.prefsrc ? canonicalIP(route.prefsrc) : null;
}
