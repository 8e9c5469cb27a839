import type { ChangeMonitor, SeenChanges } from '../backend/nft-monitor.js';

/** A ChangeMonitor that is told what it saw: a foreign change, or a gap. Starts with a gap, as the real one does. */
export class FakeChangeMonitor implements ChangeMonitor {
  private gap = true;
  private foreign: string[] = [];

  /** A change to kplane's objects by another process, as the audit will quote it. */
  foreignChange(line: string): void {
    this.foreign.push(line);
  }

  /** The monitor was down or lost events. */
  loseEvents(): void {
    this.gap = true;
  }

  take(): SeenChanges {
    const seen = { gap: this.gap, foreign: this.foreign };
    this.gap = false;
    this.foreign = [];
    return seen;
  }

  stop(): void {
    this.gap = true;
  }
}
