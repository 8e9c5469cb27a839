import type { NamespaceAgent, PodAnswer, ProbeResult } from '../sandbox/agent.js';

/** Connects `count` times (TCP or UDP) and returns every answer; fails with the first error. */
export async function answers(agent: NamespaceAgent, host: string, port: number, options: { count?: number; udp?: boolean; reset?: boolean } = {}): Promise<PodAnswer[]> {
  const results: PodAnswer[] = [];
  for (let i = 0; i < (options.count ?? 16); i++) {
    const result = options.udp ? await agent.udp(host, port) : await agent.tcp(host, port, { reset: options.reset });
    if (!result.ok) throw new Error(`${options.udp ? 'UDP' : 'TCP'} ${host}:${port} from ${agent.namespace}: ${result.error}`);
    results.push(result.answer);
  }
  return results;
}

/** The distinct pods that answered, sorted. */
export function podsOf(list: readonly PodAnswer[]): string[] {
  return [...new Set(list.map((answer) => answer.pod))].sort();
}

/** Why a probe failed (or 'answered by <pod>'), for assertions on refusals. */
export function outcome(result: ProbeResult): string {
  return result.ok ? `answered by ${result.answer.pod}` : result.error;
}
