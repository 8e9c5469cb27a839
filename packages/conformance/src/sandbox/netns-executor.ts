import { ExecaExecutor, ToolError, type Batch, type Executor, type Query, type WatchedTool } from '@kplane/core';

/**
 * Runs a backend's tools inside one network namespace (`ip netns exec NS tool ...`), so an engine
 * running in the test process programs the sandbox's node and nothing else. Counts batches per
 * tool, so the kit can check that a sync is one batched call per tool.
 */
export class NetnsExecutor implements Executor {
  readonly live = true;
  readonly applied: Batch[] = [];
  private readonly inner = new ExecaExecutor();

  constructor(readonly namespace: string) {}

  async apply(batch: Batch): Promise<void> {
    this.applied.push(batch);
    await this.inNamespace(batch.tool, () => this.inner.apply({ ...batch, tool: 'ip', args: ['netns', 'exec', this.namespace, batch.tool, ...batch.args] }));
  }

  read(query: Query): Promise<string> {
    return this.inNamespace(query.tool, () => this.inner.read({ tool: 'ip', args: ['netns', 'exec', this.namespace, query.tool, ...query.args] }));
  }

  /** `ip netns exec` execs the tool in its own process: the pid the kernel reports is the tool's. */
  watch(query: Query, onLine: (line: string) => void): WatchedTool {
    return this.inner.watch({ tool: 'ip', args: ['netns', 'exec', this.namespace, query.tool, ...query.args] }, onLine);
  }

  /** Keeps the tool's own name in errors (not "ip"). */
  private async inNamespace<T>(tool: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof ToolError) throw new ToolError(tool, error.exitCode, error.stderr);
      throw error;
    }
  }
}
