import { inject, injectable } from 'inversify';
import type { ProxyConfig } from '../config/proxy-config.js';
import { TOKENS } from '../di/tokens.js';
import type { Clock, Timer } from './clock.js';

/** The longest wait between retries of a failing sync. */
const MAX_RETRY_MS = 5 * 60_000;

/**
 * kube-proxy's bounded-frequency runner: a request after an idle period runs at once, a burst
 * coalesces into one run no sooner than `minIntervalMs` after the previous start, a run happens
 * at least every `maxIntervalMs`, and a failed run is retried with exponential backoff.
 * Runs never overlap.
 */
@injectable()
export class SyncRunner {
  /** Syncs start at least this far apart (kube-proxy's --min-sync-period). */
  private readonly minIntervalMs: number;
  /** A sync runs at least this often even without changes (--sync-period). */
  private readonly maxIntervalMs: number;
  /** First retry delay after a failure; doubles per failure up to MAX_RETRY_MS. */
  private readonly retryMs: number;
  /** Returns false (or throws) when the run failed; set by `start()`. */
  private fn: (() => Promise<boolean>) | null = null;
  private lastStart = Number.NEGATIVE_INFINITY;
  private running = false;
  private requested = false;
  private failures = 0;
  private timer: Timer | null = null;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Config) config: Pick<ProxyConfig, 'minSyncPeriodMs' | 'syncPeriodMs'>,
  ) {
    this.minIntervalMs = config.minSyncPeriodMs;
    this.maxIntervalMs = config.syncPeriodMs;
    this.retryMs = Math.max(config.minSyncPeriodMs, 1000);
  }

  /**
   * Asks for a run as soon as the minimum interval allows, also while backing off after failures:
   * a new change is a new chance (the tool may be fixed), and the backoff only spaces out retries
   * that nothing new asked for.
   */
  request(): void {
    if (this.stopped) return;
    this.requested = true;
    if (!this.running) this.schedule(Math.max(this.clock.now(), this.lastStart + this.minIntervalMs));
  }

  /** Starts the periodic schedule of `fn` with one run now. */
  start(fn: () => Promise<boolean>): void {
    this.fn = fn;
    this.requested = true;
    this.schedule(this.clock.now());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  /** True while a run is in progress or asked for: the engine's audit waits for a quiet moment. */
  get busy(): boolean {
    return this.running || this.requested;
  }

  /** Resolves once no run is in progress (for shutdown). */
  async idle(): Promise<void> {
    while (this.running) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private schedule(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = Number.POSITIVE_INFINITY;
      void this.runOnce();
    }, Math.max(0, at - this.clock.now()));
  }

  private async runOnce(): Promise<void> {
    if (this.running || this.stopped || !this.fn) return;
    this.running = true;
    this.requested = false;
    this.lastStart = this.clock.now();
    let ok = false;
    try {
      ok = await this.fn();
    } catch {
      ok = false;
    }
    this.running = false;
    if (this.stopped) return;
    if (ok) {
      this.failures = 0;
      this.schedule(this.lastStart + this.maxIntervalMs);
      if (this.requested) this.schedule(this.lastStart + this.minIntervalMs);
    } else {
      this.failures++;
      const backoff = Math.min(this.retryMs * 2 ** (this.failures - 1), MAX_RETRY_MS);
      this.schedule(Math.max(this.clock.now() + backoff, this.lastStart + this.minIntervalMs));
    }
  }
}
