import { ToolError, type Batch, type Executor, type Query } from '@kplane/core';

/**
 * A live-looking executor for unit tests: reads answer from a script of listings (`tool args` →
 * stdout; a missing entry fails like a tool would), batches are recorded.
 */
export class ScriptedExecutor implements Executor {
  readonly live = true;
  readonly batches: Batch[] = [];
  readonly reads: string[] = [];

  constructor(private readonly listings: Record<string, string> = {}) {}

  async apply(batch: Batch): Promise<void> {
    this.batches.push(batch);
  }

  async read(query: Query): Promise<string> {
    const command = [query.tool, ...query.args].join(' ');
    this.reads.push(command);
    const answer = this.listings[command];
    if (answer === undefined) throw new ToolError(query.tool, 1, `no listing scripted for "${command}"`);
    return answer;
  }

  /** The batches as `kplane plan` prints them. */
  render(): string {
    return this.batches.map((batch) => `# ${[batch.tool, ...batch.args].join(' ')}\n${batch.input}`).join('');
  }
}
