import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const AGENT_SCRIPT = findAgentScript();

/** The agent ships as plain JavaScript in src/ (it runs in other namespaces as is), from sources or a build. */
function findAgentScript(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'src/sandbox/netns-agent.mjs');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) throw new Error('@kplane/conformance: src/sandbox/netns-agent.mjs is missing');
  }
}

export interface PodAnswer {
  /** The pod that answered. */
  readonly pod: string;
  /** The port it was reached on (the endpoint's port, after DNAT). */
  readonly port: number;
  /** The source address it saw (shows whether the connection was masqueraded). */
  readonly from: string;
}

export type ProbeResult =
  | { readonly ok: true; readonly answer: PodAnswer; readonly connectMs?: number }
  | { readonly ok: false; readonly error: string };

/**
 * A process inside one network namespace, driven over JSON lines: a pod's TCP/UDP servers that
 * answer with their name, or a client that connects, keeps connections and sends datagrams.
 */
export class NamespaceAgent {
  private seq = 0;
  private readonly pending = new Map<number, (response: Record<string, unknown>) => void>();

  private constructor(readonly namespace: string, private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const { seq, ...response } = JSON.parse(line) as { seq: number };
      this.pending.get(seq)?.(response);
      this.pending.delete(seq);
    });
  }

  static async start(namespace: string): Promise<NamespaceAgent> {
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, AGENT_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const agent = new NamespaceAgent(namespace, child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      agent.pending.set(0, () => resolve());
      child.once('exit', (code) => reject(new Error(`agent in ${namespace} exited (${code}): ${stderr}`)));
    });
    return agent;
  }

  /** Starts a pod's servers. */
  async serve(pod: string, ports: { tcp: readonly number[]; udp: readonly number[] }): Promise<void> {
    await this.request('serve', { pod, ...ports });
  }

  /**
   * One TCP connection: sends a line, returns the pod's answer (or why there was none). `keep`
   * names it for `send`; `reset` closes it with a RST rather than a FIN.
   */
  tcp(host: string, port: number, options: { keep?: string; timeoutMs?: number; reset?: boolean } = {}): Promise<ProbeResult> {
    return this.request('tcp', { host, port, ...options }) as Promise<ProbeResult>;
  }

  /** One more exchange on a kept connection. */
  send(keep: string, timeoutMs?: number): Promise<ProbeResult> {
    return this.request('send', { keep, timeoutMs }) as Promise<ProbeResult>;
  }

  async close(keep: string): Promise<void> {
    await this.request('close', { keep });
  }

  udp(host: string, port: number, options: { sourcePort?: number; timeoutMs?: number } = {}): Promise<ProbeResult> {
    return this.request('udp', { host, port, ...options }) as Promise<ProbeResult>;
  }

  http(url: string): Promise<{ ok: boolean; status?: number; body?: string; error?: string }> {
    return this.request('http', { url }) as Promise<{ ok: boolean; status?: number; body?: string; error?: string }>;
  }

  stop(): void {
    this.child.stdin.end();
    this.child.kill();
  }

  private request(op: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(seq, resolve);
      this.child.stdin.write(`${JSON.stringify({ seq, op, ...payload })}\n`);
    });
  }
}
