import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Quiet this long after a sync: the burst is over. */
const IDLE_MS = 2000;
/** Under steady churn there is never a quiet moment: release at least this often while syncs go on. */
const MAX_WAIT_MS = 30_000;

export type Collect = () => void;

/**
 * V8 keeps the heap a burst of work grew it to, garbage included, until a later allocation needs
 * room: an agent that goes quiet after full endpoint rewrites at 20,000 services stayed at 668 MB RSS
 * for a much smaller live heap (RELIABILITY.md, memory). One full collection once the agent is quiet
 * after syncs frees that garbage, and V8 then returns the emptied pages to the OS, with no flag for an
 * operator to pass. It stops the process for a moment, at most every MAX_WAIT_MS.
 */
export class MemoryRelease {
  private timer: NodeJS.Timeout | null = null;
  private firstPendingAt: number | null = null;

  constructor(private readonly collect: Collect | null = fullCollect()) {}

  /** A sync (or another burst of allocation) just ended. */
  worked(): void {
    if (!this.collect) return;
    const now = Date.now();
    this.firstPendingAt ??= now;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(IDLE_MS, this.firstPendingAt + MAX_WAIT_MS - now));
    this.timer = setTimeout(() => this.release(), delay);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private release(): void {
    this.timer = null;
    this.firstPendingAt = null;
    this.collect!();
  }
}

/**
 * A full collection, reached without `--expose-gc` on the command line; null if this V8 refuses.
 * (Node 20's `gc()` ignores the options object of newer V8s, such as the "last resort" flavour.)
 */
function fullCollect(): Collect | null {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Collect;
  } catch {
    return null;
  }
}
