import { ToolError, type Batch, type Executor, type Query } from '../backend/executor.js';
import { renderBatches } from './golden.js';

/** What a scripted read answers: stdout, or a function of the query (throw a ToolError to fail it). */
export type ReadAnswer = string | ((query: Query) => string);

/**
 * A live-looking executor for unit tests, where the DryRunExecutor (empty reads, never fails) is
 * not enough: reads answer from a script keyed by `tool args` (a read nobody scripted fails as the
 * tool would, so a test sees every read it did not expect), batches are recorded, and a batch can
 * be told to fail (fault tests). A failed batch is not recorded: it never reached the kernel.
 */
export class FakeExecutor implements Executor {
  readonly live = true;
  /** Every batch applied, in order (failed ones excluded). */
  readonly batches: Batch[] = [];
  /** Every read, as `tool args`, in order. */
  readonly reads: string[] = [];
  private readonly faults: { matches: (batch: Batch) => boolean; error: Error | undefined }[] = [];

  constructor(private readonly answers: Record<string, ReadAnswer> = {}) {}

  /** Scripts (or replaces) the answer to the read `command` (`tool args`, joined by spaces). */
  answer(command: string, answer: ReadAnswer): this {
    this.answers[command] = answer;
    return this;
  }

  /**
   * Makes the next batch that `matches` (by default: any) fail with `error` (a ToolError of the
   * batch's tool by default). Each call fails one batch; calls queue up.
   */
  failNext(matches: (batch: Batch) => boolean = () => true, error?: Error): this {
    this.faults.push({ matches, error });
    return this;
  }

  async apply(batch: Batch): Promise<void> {
    const fault = this.faults.findIndex((candidate) => candidate.matches(batch));
    if (fault >= 0) throw this.faults.splice(fault, 1)[0]!.error ?? new ToolError(batch.tool, 1, 'injected failure');
    this.batches.push(batch);
  }

  async read(query: Query): Promise<string> {
    const command = [query.tool, ...query.args].join(' ');
    this.reads.push(command);
    const answer = this.answers[command];
    if (answer === undefined) throw new ToolError(query.tool, 1, `no answer scripted for "${command}"`);
    return typeof answer === 'string' ? answer : answer(query);
  }

  /** The recorded batches as `kplane plan` prints them. */
  render(): string {
    return renderBatches(this.batches);
  }
}
