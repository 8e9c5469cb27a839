import { inject, injectable } from 'inversify';
import { ToolError, type Batch, type Executor, type Query } from '../backend/executor.js';
import { TOKENS } from '../di/tokens.js';
import type { Clock } from '../engine/clock.js';
import type { SyncRecorder } from './sync-recorder.js';

/** What the container binds under TOKENS.Executor is this wrapper; the runtime's own executor is bound here. */
export const INNER_EXECUTOR = Symbol.for('kplane.InnerExecutor');

/**
 * The executor backends get: the runtime's own, with every batch also handed to the sync recorder
 * (its text, how it ended, how long it ran) for `/debug/sync`. Batches and reads pass through unchanged.
 */
@injectable()
export class RecordingExecutor implements Executor {
  readonly live: boolean;

  constructor(
    @inject(INNER_EXECUTOR) private readonly inner: Executor,
    @inject(TOKENS.SyncRecorder) private readonly recorder: SyncRecorder,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {
    this.live = inner.live;
  }

  async apply(batch: Batch): Promise<void> {
    const startedAt = this.clock.now();
    try {
      await this.inner.apply(batch);
    } catch (error) {
      const failure = error instanceof ToolError
        ? { exitStatus: error.exitCode ?? null, stderr: error.stderr }
        : { exitStatus: null, stderr: error instanceof Error ? error.message : String(error) };
      this.recorder.batch(batch, this.clock.now() - startedAt, failure);
      throw error;
    }
    this.recorder.batch(batch, this.clock.now() - startedAt);
  }

  read(query: Query): Promise<string> {
    return this.inner.read(query);
  }
}
