import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Resources } from './resources.js';

/** Operations a child answers: request and response payloads by name. */
export type Operations = Record<string, { request: object; response: object }>;

const STDERR_KEPT = 16_384;

/**
 * A child process driven over JSON lines: `{seq, op, ...}` in, `{seq, ...}` or `{seq, error}` out,
 * `{seq: 0}` once ready. The bench's agent and prober both speak it.
 */
export class JsonLinesProcess<Ops extends Operations> {
  private seq = 0;
  private stderr = '';
  private readonly pending = new Map<number, { resolve: (value: object) => void; reject: (error: Error) => void }>();
  private readonly release: () => Promise<void>;

  private constructor(private readonly name: string, private readonly child: ChildProcessWithoutNullStreams, resources: Resources) {
    this.release = resources.addProcess(child);
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-STDERR_KEPT)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const { seq, error, ...response } = JSON.parse(line) as { seq: number; error?: string };
      const waiter = this.pending.get(seq);
      this.pending.delete(seq);
      if (error !== undefined) waiter?.reject(new Error(`${this.name}: ${error}${this.stderrTail()}`));
      else waiter?.resolve(response);
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${this.name} exited (${signal ?? code})${this.stderrTail()}`));
      this.pending.clear();
    });
  }

  static async start<Ops extends Operations>(name: string, command: string, args: readonly string[], resources: Resources): Promise<JsonLinesProcess<Ops>> {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const process = new JsonLinesProcess<Ops>(name, child, resources);
    await new Promise<object>((resolve, reject) => process.pending.set(0, { resolve, reject }));
    return process;
  }

  request<Op extends keyof Ops & string>(op: Op, payload: Ops[Op]['request']): Promise<Ops[Op]['response']> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve: resolve as (value: object) => void, reject });
      this.child.stdin.write(`${JSON.stringify({ ...payload, seq, op })}\n`);
    });
  }

  /** Closes stdin (the child exits by itself), killing it if it does not. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    await this.release();
  }

  private stderrTail(): string {
    const tail = this.stderr.trim().split('\n').slice(-8).join('\n');
    return tail ? `\n${tail}` : '';
  }
}
