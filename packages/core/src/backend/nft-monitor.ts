import { startedByThisProcess, type Executor, type WatchedTool } from './executor.js';

/** What a change monitor saw since it was last asked. */
export interface SeenChanges {
  /** It was not watching for part of the time (not started yet, restarted, lost events): changes may have gone unseen. */
  readonly gap: boolean;
  /** Changes to kplane's objects by processes kplane did not start, one line each (the first thing changed, the process). */
  readonly foreign: readonly string[];
}

/** Watches the kernel for changes to kplane's objects between audits. */
export interface ChangeMonitor {
  /** What was seen since the last call (the first call after start reports a gap). */
  take(): SeenChanges;
  stop(): void;
}

/** Foreign changes quoted per audit; the rest are counted in the last line. */
const FOREIGN_LINES = 5;
/** The line nft monitor closes each transaction with (nft 1.0.6 and later): `# new generation 7 by process 2837 (iptables-nft)`. */
const GENERATION = /^# new generation \d+ by process (\d+) \((.*)\)$/;

/**
 * A long-lived `nft monitor` (every nf_tables change in the namespace, kplane's nft tables and
 * iptables-nft's tables alike), its events grouped per transaction by the generation line that
 * closes each. A transaction of a process kplane did not start (core's executor remembers the pids
 * of its tools) with a line that `ours` recognises is a foreign change. Events nobody saw (before
 * the start, while it was down, lost by the kernel's socket) make a gap, which the audit covers by
 * reading the kernel whole. Without `Executor.watch` (dry runs, fakes) there is a gap every time.
 *
 * Costs, measured at 20,000 services (nft backend): nothing while idle; during a full sync nft
 * monitor prints every element (about 120,000 lines, 9 MB), about 1 s of its CPU; its RSS grows to
 * about 230 MB (it keeps the sets it has seen, elements included, to print them).
 */
export class NftMonitor implements ChangeMonitor {
  private tool: WatchedTool | null = null;
  private gap = true;
  private foreign: string[] = [];
  private foreignCount = 0;
  /** The first line of kplane's in the transaction being read, and how many there are. */
  private pending: { first: string; count: number } | null = null;

  constructor(private readonly executor: Executor, private readonly ours: (line: string) => boolean) {}

  /** Starts watching (again, after the tool ended); a no-op where the executor cannot watch. */
  start(): void {
    if (this.tool || !this.executor.watch || !this.executor.live) return;
    this.pending = null;
    const tool = this.executor.watch({ tool: 'nft', args: ['monitor'] }, (line) => this.read(line));
    this.tool = tool;
    void tool.ended.then(() => {
      if (this.tool !== tool) return;
      this.tool = null;
      this.gap = true;
    });
  }

  take(): SeenChanges {
    const seen: SeenChanges = {
      gap: this.gap || this.tool === null,
      foreign: this.foreignCount > this.foreign.length ? [...this.foreign, `and ${this.foreignCount - this.foreign.length} more`] : this.foreign,
    };
    this.gap = false;
    this.foreign = [];
    this.foreignCount = 0;
    this.start();
    return seen;
  }

  stop(): void {
    const tool = this.tool;
    this.tool = null;
    tool?.stop();
  }

  private read(line: string): void {
    const generation = GENERATION.exec(line);
    if (generation) {
      if (this.pending && !startedByThisProcess(Number(generation[1]))) {
        const more = this.pending.count > 1 ? ` (and ${this.pending.count - 1} more changes)` : '';
        if (this.foreign.length < FOREIGN_LINES) this.foreign.push(`"${this.pending.first}"${more} by process ${generation[1]} (${generation[2]})`);
        this.foreignCount++;
      }
      this.pending = null;
    } else if (line.startsWith('#') || line.startsWith('netlink:') || line.startsWith('Error')) {
      // Anything else nft says about the stream (`# ERROR: We lost some netlink events!`) is a gap.
      this.gap = true;
    } else if (this.ours(line)) {
      this.pending = this.pending ? { ...this.pending, count: this.pending.count + 1 } : { first: line, count: 1 };
    }
  }
}
