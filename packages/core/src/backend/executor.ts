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
}

export class ToolError extends Error {
  constructor(readonly tool: string, readonly exitCode: number | undefined, readonly stderr: string) {
    super(`${tool} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${stderr.trim().split('\n').slice(0, 12).join('\n')}`);
    this.name = 'ToolError';
  }
}

/** The tool is not installed: nothing has run. */
export class ToolMissingError extends ToolError {
  constructor(tool: string) {
    super(tool, undefined, `${tool} is not installed (not found on PATH)`);
    this.name = 'ToolMissingError';
  }
}

export class ExecaExecutor implements Executor {
  readonly live = true;

  async apply(batch: Batch): Promise<void> {
    await run(batch.tool, batch.args, batch.input, batch.failOnStderr);
  }

  read(query: Query): Promise<string> {
    return run(query.tool, query.args, undefined);
  }
}

async function run(tool: string, args: readonly string[], input: string | undefined, failOnStderr = false): Promise<string> {
  const result = await execa(tool, args, { input: input ?? '', reject: false, stripFinalNewline: false, maxBuffer: 1 << 30 });
  if (result.failed && result.code === 'ENOENT' && result.exitCode === undefined) throw new ToolMissingError(tool);
  if (result.failed) throw new ToolError(tool, result.exitCode, result.stderr || result.message || 'failed');
  if (failOnStderr && result.stderr.trim() !== '') throw new ToolError(tool, result.exitCode, result.stderr);
  return result.stdout;
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
