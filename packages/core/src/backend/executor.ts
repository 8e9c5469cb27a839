import { execa } from 'execa';

/** One batched call to a dataplane tool: what `kplane plan` prints and what the executor runs. */
export interface Batch {
  readonly tool: string;
  readonly args: readonly string[];
  /** Fed on stdin, in the tool's own input syntax (`nft -f -`, `iptables-restore`, `ipset restore`...). */
  readonly input: string;
  /** The tool reports some failures only on stderr (`ipvsadm -R` goes on after a failed line and exits with the last line's status): any stderr output fails the batch. */
  readonly failOnStderr?: boolean;
}

/** A read-only command (listing state, counting connections). */
export interface Query {
  readonly tool: string;
  readonly args: readonly string[];
}

/**
 * Runs tools for backends: never through a shell, one batch per call. The dry-run executor records
 * batches instead, which is how `kplane plan` and planner tests see exactly what would be written.
 */
export interface Executor {
  apply(batch: Batch): Promise<void>;
  /** Returns stdout; in dry-run mode returns '' (as if the dataplane were empty). */
  read(query: Query): Promise<string>;
  /** True when `read` reports the real dataplane (false in dry-run mode). */
  readonly live: boolean;
  /** Starts a tool that runs until stopped (`nft monitor`), its output (stdout and stderr) handed over line by line; absent where nothing may run (dry runs, fakes). */
  watch?(query: Query, onLine: (line: string) => void): WatchedTool;
}

/** A tool started by `Executor.watch`. */
export interface WatchedTool {
  /** Resolves once the tool has ended, however (stopped, failed, killed). */
  readonly ended: Promise<void>;
  stop(): void;
}

/** What a log line says about a failed batch: its command, size and first lines, never the whole input (a full sync can be 10 MB). */
export interface BatchSummary {
  readonly command: string;
  readonly bytes: number;
  readonly lines: number;
  readonly head: readonly string[];
}

const HEAD_LINES = 3;
const HEAD_LINE_CHARS = 200;
/** stderr lines a ToolError's message and log fields keep (nft can echo an error per line of a large input). */
const STDERR_LINES = 12;

export function summarizeBatch(batch: Batch): BatchSummary {
  const head: string[] = [];
  let lines = 0;
  for (let start = 0; start < batch.input.length; lines++) {
    const end = batch.input.indexOf('\n', start);
    const stop = end === -1 ? batch.input.length : end;
    if (head.length < HEAD_LINES) head.push(batch.input.slice(start, Math.min(stop, start + HEAD_LINE_CHARS)));
    start = stop + 1;
  }
  return { command: [batch.tool, ...batch.args].join(' '), bytes: Buffer.byteLength(batch.input), lines, head };
}

export class ToolError extends Error {
  constructor(
    readonly tool: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    /** The batch the tool refused (absent for reads). */
    readonly batch?: BatchSummary,
  ) {
    super(`${tool} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${firstLines(stderr)}`);
    this.name = 'ToolError';
  }

  /** The fields a log line about the failure carries: which tool, how it ended, what it said, on which batch. */
  logFields(): { tool: string; exitCode: number | undefined; stderr: string; batch?: BatchSummary } {
    return { tool: this.tool, exitCode: this.exitCode, stderr: firstLines(this.stderr), ...(this.batch && { batch: this.batch }) };
  }
}

function firstLines(text: string): string {
  return text.trim().split('\n').slice(0, STDERR_LINES).join('\n');
}

/** The tool is not installed: nothing has run. */
export class ToolMissingError extends ToolError {
  constructor(tool: string) {
    super(tool, undefined, `${tool} is not installed (not found on PATH)`);
    this.name = 'ToolMissingError';
  }
}

/** The tool ran past the executor's timeout and was killed (with every process it started). */
export class ToolTimeoutError extends ToolError {
  constructor(tool: string, readonly timeoutMs: number, stderr: string, batch?: BatchSummary) {
    super(tool, undefined, `timed out after ${timeoutMs / 1000} s and was killed${stderr.trim() ? `; stderr so far: ${stderr}` : ''}`, batch);
    this.name = 'ToolTimeoutError';
  }
}

/** How long one batch or read may run before it is killed (--tool-timeout). */
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000;

/** How many of the tools this process started last are remembered by their pid. */
const REMEMBERED_CHILDREN = 1024;
const recentChildren = new Set<number>();

/**
 * Whether `pid` is one of the last tools this process (any ExecaExecutor in it) started: `nft
 * monitor` names the process of each change, and a change by kplane's own tools is no drift.
 * A pid comes round again only after the kernel's whole pid range: far more than the last 1,024.
 */
export function startedByThisProcess(pid: number): boolean {
  return recentChildren.has(pid);
}

function rememberChild(pid: number | undefined): void {
  if (pid === undefined) return;
  recentChildren.add(pid);
  if (recentChildren.size > REMEMBERED_CHILDREN) recentChildren.delete(recentChildren.values().next().value!);
}

export class ExecaExecutor implements Executor {
  readonly live = true;
  private readonly timeoutMs: number;

  constructor(options: { timeoutMs?: number } = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  }

  async apply(batch: Batch): Promise<void> {
    await this.run(batch.tool, batch.args, batch);
  }

  read(query: Query): Promise<string> {
    return this.run(query.tool, query.args);
  }

  /** Runs a read, or a batch (whose input goes to stdin and whose summary goes into a failure). */
  private async run(tool: string, args: readonly string[], batch?: Batch): Promise<string> {
    // Its own process group, so a timeout kills whatever the tool started too: a child left holding
    // the tool's stdout would keep the run waiting for its output to end.
    const child = execa(tool, args, { input: batch?.input ?? '', reject: false, stripFinalNewline: false, maxBuffer: 1 << 30, detached: true });
    rememberChild(child.pid);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, this.timeoutMs);
    const result = await child.finally(() => clearTimeout(timer));
    const summary = (): BatchSummary | undefined => batch && summarizeBatch(batch);
    if (timedOut) throw new ToolTimeoutError(tool, this.timeoutMs, result.stderr, summary());
    if (result.failed && result.code === 'ENOENT' && result.exitCode === undefined) throw new ToolMissingError(tool);
    if (result.failed) throw new ToolError(tool, result.exitCode, result.stderr || result.message || 'failed', summary());
    if (batch?.failOnStderr && result.stderr.trim() !== '') throw new ToolError(tool, result.exitCode, result.stderr, summary());
    return result.stdout;
  }

  watch(query: Query, onLine: (line: string) => void): WatchedTool {
    // A shell between kplane and the tool ends the tool when kplane's end of its stdin closes, so a
    // kill -9 of kplane leaves no monitor behind; stderr too (nft monitor reports lost events there).
    const child = execa('sh', ['-c', '"$@" & read -r _; kill $! 2>/dev/null', 'sh', query.tool, ...query.args],
      { stdin: 'pipe', all: true, buffer: false, reject: false, detached: true });
    let rest = '';
    child.all?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    // Never what keeps kplane running.
    const stop = (): void => killGroup(child.pid);
    process.once('exit', stop);
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as { unref?: () => void } | null)?.unref?.();
    const ended = child.then(() => {}, () => {}).finally(() => process.removeListener('exit', stop));
    return { ended, stop };
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Records every batch instead of running it. Reads answer '' (an empty dataplane), or, given a
 * real executor, come from the real kernel: `kplane cleanup --dry-run` lists what is there and
 * records the removals it would send.
 */
export class DryRunExecutor implements Executor {
  readonly live: boolean;
  readonly batches: Batch[] = [];

  constructor(private readonly reads?: Executor) {
    this.live = reads?.live ?? false;
  }

  async apply(batch: Batch): Promise<void> {
    this.batches.push(batch);
  }

  async read(query: Query): Promise<string> {
    return this.reads ? this.reads.read(query) : '';
  }

  /** The recorded batches as `kplane plan` prints them: each headed by a `# <tool> <args>` line. */
  render(): string {
    return this.batches.map((batch) => `# ${[batch.tool, ...batch.args].join(' ')}\n${batch.input.endsWith('\n') ? batch.input : `${batch.input}\n`}`).join('');
  }
}
