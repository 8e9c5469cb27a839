import { inject, injectable } from 'inversify';
import type { Batch } from '../backend/executor.js';
import { TOKENS } from '../di/tokens.js';
import type { Clock } from '../engine/clock.js';
import type { ServicePortKey } from '../model/service-port.js';

/** Syncs `/debug/sync` keeps (the oldest goes first). */
export const SYNCS_KEPT = 20;
/** Batches kept per sync (a split full sync can have hundreds: the rest are counted). */
export const BATCHES_KEPT = 32;
/** Characters kept of a batch's input and of a failed tool's stderr. */
export const TEXT_KEPT = 2_000;
export const STDERR_KEPT = 1_000;

/** One batch as the debug endpoint shows it: the text sent (its start), how it ended and how long it ran. */
export interface BatchRecord {
  readonly command: string;
  /** The first TEXT_KEPT characters of the input. */
  readonly text: string;
  /** The whole input's length in characters (`text` is truncated when shorter). */
  readonly length: number;
  readonly ms: number;
  /** 0 when the tool succeeded; its exit status when it failed (null: it did not exit, e.g. killed or missing). */
  readonly exitStatus: number | null;
  /** The start of its stderr, on failure only. */
  readonly stderr?: string;
}

/** One sync as the debug endpoint shows it. */
export interface SyncRecord {
  readonly startedAt: string;
  readonly full: boolean;
  /** Service ports handed to the backend as changed. */
  readonly changed: number;
  ok: boolean | null;
  error?: string;
  /** Time in the backend's sync(), and the whole sync (backend, conntrack cleanup, health, listeners). */
  backendMs?: number;
  totalMs?: number;
  readonly batches: BatchRecord[];
  /** Batches past BATCHES_KEPT, counted only. */
  batchesDropped: number;
}

/**
 * The last SYNCS_KEPT syncs, with their batches, for `/debug/sync` and `kplane explain`. Memory is
 * bounded: at most SYNCS_KEPT × BATCHES_KEPT batch records of TEXT_KEPT + STDERR_KEPT characters
 * (20 × 32 × 3,000 characters: under 4 MB at the worst, a few KB at a usual sync), plus one time
 * per service port of the state (when it last changed in a successful sync).
 */
@injectable()
export class SyncRecorder {
  private readonly syncs: SyncRecord[] = [];
  private current: SyncRecord | null = null;
  private startedAt = 0;
  private readonly changedAt = new Map<ServicePortKey, number>();
  private lastSyncAt: number | null = null;

  constructor(@inject(TOKENS.Clock) private readonly clock: Clock) {}

  /** A sync starts (the engine calls it before the backend's sync()). */
  begin(full: boolean, changed: number): void {
    this.startedAt = this.clock.now();
    this.current = { startedAt: new Date(this.startedAt).toISOString(), full, changed, ok: null, batches: [], batchesDropped: 0 };
    this.syncs.push(this.current);
    if (this.syncs.length > SYNCS_KEPT) this.syncs.shift();
  }

  /** The backend's sync() ended: how long it took, and whether the kernel took the changed ports. */
  backendDone(changed: ReadonlySet<ServicePortKey>, present: (key: ServicePortKey) => boolean, error?: unknown): void {
    const sync = this.current;
    if (!sync) return;
    const now = this.clock.now();
    sync.backendMs = now - this.startedAt;
    sync.ok = error === undefined;
    if (error !== undefined) {
      sync.error = error instanceof Error ? error.message : String(error);
      sync.totalMs = sync.backendMs;
      this.current = null;
      return;
    }
    this.lastSyncAt = now;
    // Only ports still in the state keep a time: the map is never bigger than the state.
    for (const key of changed) {
      if (present(key)) this.changedAt.set(key, now);
      else this.changedAt.delete(key);
    }
  }

  /** The whole sync ended (after conntrack cleanup and the after-sync listeners). */
  end(): void {
    if (this.current) this.current.totalMs = this.clock.now() - this.startedAt;
    this.current = null;
  }

  /** Records one batch the executor ran during a sync (none outside one: init, cleanup). */
  batch(batch: Batch, ms: number, failure?: { exitStatus: number | null; stderr: string }): void {
    const sync = this.current;
    if (!sync) return;
    if (sync.batches.length >= BATCHES_KEPT) {
      sync.batchesDropped++;
      return;
    }
    sync.batches.push({
      command: [batch.tool, ...batch.args].join(' '),
      text: batch.input.slice(0, TEXT_KEPT),
      length: batch.input.length,
      ms,
      exitStatus: failure ? failure.exitStatus : 0,
      ...(failure && { stderr: failure.stderr.slice(0, STDERR_KEPT) }),
    });
  }

  /** The kept syncs, newest first. */
  recent(): readonly SyncRecord[] {
    return [...this.syncs].reverse();
  }

  /** When a service port last changed in a successful sync (null: not since the agent started, or gone). */
  lastChanged(key: ServicePortKey): string | null {
    const at = this.changedAt.get(key);
    return at === undefined ? null : new Date(at).toISOString();
  }

  /** When the last successful sync ended its backend part. */
  get lastSync(): string | null {
    return this.lastSyncAt === null ? null : new Date(this.lastSyncAt).toISOString();
  }
}
