import type { Batch, Executor, Query } from '@kplane/core';

/** Adds up the time spent in each tool. */
export class ToolTimes implements Executor {
  readonly live = true;
  private times = new Map<string, number>();

  constructor(private readonly inner: Executor) {}

  apply(batch: Batch): Promise<void> {
    return this.time(batch.tool, () => this.inner.apply(batch));
  }

  read(query: Query): Promise<string> {
    return this.time(query.tool, () => this.inner.read(query));
  }

  /** `tool ms, ...` since the last call. */
  take(): string {
    const text = [...this.times].map(([tool, ms]) => `${tool} ${Math.round(ms)}`).join(', ');
    this.times = new Map();
    return text;
  }

  private async time<T>(tool: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await run();
    } finally {
      this.times.set(tool, (this.times.get(tool) ?? 0) + performance.now() - started);
    }
  }
}
