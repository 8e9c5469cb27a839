import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_NETWORK } from './sandbox.js';

/** One batch a recording shim saw: its tool, when it started and ended (epoch ms), and its input's size. */
export interface RecordedCall {
  readonly tool: string;
  readonly startMs: number;
  readonly endMs: number | null;
  readonly bytes: number | null;
  readonly lines: number | null;
}

/** The tools whose input is a batch, and the arguments of their batch calls (a shell `case` pattern). */
const BATCH_TOOLS: Readonly<Record<string, string>> = {
  nft: '*"-f -"*',
  ...Object.fromEntries(['iptables', 'ip6tables'].flatMap((tool) => ['nft', 'legacy'].map((mode) => [`${tool}-${mode}-restore`, '*']))),
};

/**
 * Shims of the batch tools first on PATH: each batch goes through to the real tool, its input copied
 * on the way (tee) so that its start, end and size are logged. The tool keeps running if the agent
 * is killed meanwhile (the executor starts it in a group of its own), as it would unshimmed. A shim
 * can also kill the agent at a given batch (`killAgentAt`).
 */
export class RecordingShims {
  readonly directory = mkdtempSync(join(tmpdir(), 'kplane-recording-shims-'));
  private readonly log = join(this.directory, 'calls.log');
  private readonly countFile = join(this.directory, 'count');
  private readonly killFile = join(this.directory, 'kill-at');

  constructor() {
    this.killAgentAt(null);
    for (const [tool, pattern] of Object.entries(BATCH_TOOLS)) {
      const real = execFileSync('sh', ['-c', `command -v ${tool} || true`], { encoding: 'utf8' }).trim();
      if (!real) continue;
      const input = `${this.directory}/input.$$`;
      // The batch's number (from 1) and, when it is the one `killAgentAt` names, kill -9 of the agent (the shim's parent).
      const kill = (when: string, then: string) => `[ "$(cat '${this.killFile}')" = "$n ${when}" ] && { kill -9 $PPID; ${then}; }`;
      writeFileSync(join(this.directory, tool), [
        '#!/bin/sh',
        `case "$*" in ${pattern})`,
        `  n=$(( $(cat '${this.countFile}') + 1 )); echo "$n" > '${this.countFile}'`,
        `  ${kill('before', 'exit 1')}`,
        `  echo "start $$ $(date +%s%N) ${tool}" >> '${this.log}'`,
        `  tee "${input}" | ${real} "$@"; status=$?`,
        `  echo "end $$ $(date +%s%N) $(wc -c < "${input}") $(wc -l < "${input}")" >> '${this.log}'`,
        `  rm -f "${input}"; ${kill('after', 'true')}; exit $status ;;`,
        'esac',
        `exec ${real} "$@"`,
        '',
      ].join('\n'), { mode: 0o755 });
    }
  }

  /**
   * From now on, kill -9 the agent when batch `call` (counted from 1 from now) starts (the tool then
   * never runs), or once the tool has applied it, before the agent hears of it; null: never.
   */
  killAgentAt(point: { call: number; when: 'before' | 'after' } | null): void {
    writeFileSync(this.countFile, '0');
    writeFileSync(this.killFile, point ? `${point.call} ${point.when}` : 'never');
  }

  /** PATH with the shims first. */
  get path(): string {
    return `${this.directory}:${process.env.PATH ?? ''}`;
  }

  /** Every batch so far, in start order; a batch still running has no end. */
  calls(): RecordedCall[] {
    if (!existsSync(this.log)) return [];
    const calls = new Map<string, { tool: string; startMs: number; endMs: number | null; bytes: number | null; lines: number | null }>();
    for (const line of readFileSync(this.log, 'utf8').split('\n')) {
      const [kind, pid, ns, ...rest] = line.split(' ');
      if (kind === 'start') calls.set(pid!, { tool: rest[0]!, startMs: Number(ns) / 1e6, endMs: null, bytes: null, lines: null });
      const call = calls.get(pid!);
      if (kind === 'end' && call) Object.assign(call, { endMs: Number(ns) / 1e6, bytes: Number(rest[0]), lines: Number(rest[1]) });
    }
    // A pid can be reused by a later call: a call is keyed by pid only while it runs.
    return [...calls.values()].sort((a, b) => a.startMs - b.startMs);
  }

  remove(): void {
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** A `kplane run --source file:` agent in a node namespace, killed with SIGKILL or stopped with SIGTERM. */
export class KplaneProcess {
  readonly startedMs = Date.now();
  private stderr = '';
  private readonly exited: Promise<void>;

  /** Every JSON log line, parsed as it arrives (stderr itself is kept only as a tail for error messages). */
  private readonly logLines: Record<string, unknown>[] = [];
  private partialLine = '';

  private constructor(private readonly child: ChildProcess) {
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      this.stderr = (this.stderr + text).slice(-(1 << 16));
      const lines = (this.partialLine + text).split('\n');
      this.partialLine = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        try {
          this.logLines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // Not a log line (a JSON-looking message of a tool, say).
        }
      }
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /**
   * Starts `command` (the kplane CLI: node and its arguments) in `namespace` with the sandbox's node
   * flags, debug logs (one `synced` line per sync) and no metrics port; `flags` select the backend.
   */
  static start(setup: { namespace: string; command: readonly string[]; cwd: string; flags: readonly string[]; manifest: string; path?: string }): KplaneProcess {
    const net = SANDBOX_NETWORK;
    const child = spawn('ip', ['netns', 'exec', setup.namespace, ...setup.command, 'run', ...setup.flags, '--source', `file:${setup.manifest}`,
      '--node-name', net.nodeName, ...net.nodeIPs.flatMap((ip) => ['--node-ip', ip]), '--cluster-cidr', net.clusterCIDRs.join(','),
      '--metrics-bind-address', '', '--log-level', 'debug'], { cwd: setup.cwd, env: { ...process.env, ...(setup.path && { PATH: setup.path }) }, stdio: ['ignore', 'ignore', 'pipe'] });
    return new KplaneProcess(child);
  }

  /** The JSON log lines so far. */
  logs(): readonly Record<string, unknown>[] {
    return this.logLines;
  }

  /** The syncs done so far (`full`, how long the engine says it took). */
  syncs(): { full: boolean; ms: number; time: number }[] {
    return this.logs().filter((log) => log.msg === 'synced').map((log) => ({ full: log.full === true, ms: Number(log.ms), time: Number(log.time) }));
  }

  /** Sync failures logged so far (error level). */
  errors(): Record<string, unknown>[] {
    return this.logs().filter((log) => Number(log.level) >= 50);
  }

  /** Resolves once `count` syncs are done; fails if the agent exits first or `timeoutMs` passes. */
  async synced(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.syncs().length < count) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`kplane run exited (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`kplane run did not finish sync ${count} within ${timeoutMs / 1000} s: ${this.stderr.slice(-2000)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** The signal that ended the agent (SIGKILL after a kill -9), or null. */
  get signal(): NodeJS.Signals | null {
    return this.child.signalCode;
  }

  /** kill -9: no handler runs, whatever the agent was doing stops there. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
