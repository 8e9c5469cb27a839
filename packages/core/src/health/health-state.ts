import { inject, injectable } from 'inversify';
import type { ProxyConfig } from '../config/proxy-config.js';
import { TOKENS } from '../di/tokens.js';
import type { Clock } from '../engine/clock.js';

export interface HealthReport {
  readonly healthy: boolean;
  readonly body: { readonly lastUpdated: string; readonly currentTime: string; readonly nodeEligible?: boolean };
}

/**
 * kube-proxy's proxier health: unhealthy when a queued change has waited longer than the timeout
 * for a successful sync. Also unhealthy before the first sync (the rules are not there yet).
 * /healthz also reports the Node being deleted or drained by the cluster autoscaler; /livez does not.
 */
@injectable()
export class HealthState {
  private readonly timeoutMs: number;
  private lastUpdated: number | null = null;
  private oldestPending: number | null = null;
  private nodeEligible = true;

  constructor(@inject(TOKENS.Clock) private readonly clock: Clock, @inject(TOKENS.Config) config: Pick<ProxyConfig, 'healthzTimeoutMs'>) {
    this.timeoutMs = config.healthzTimeoutMs;
  }

  queued(): void {
    this.oldestPending ??= this.clock.now();
  }

  updated(): void {
    this.lastUpdated = this.clock.now();
    this.oldestPending = null;
  }

  setNodeEligible(eligible: boolean): void {
    this.nodeEligible = eligible;
  }

  healthz(): HealthReport {
    const live = this.livez();
    return { healthy: live.healthy && this.nodeEligible, body: { ...live.body, nodeEligible: this.nodeEligible } };
  }

  livez(): HealthReport {
    const now = this.clock.now();
    const stalled = this.oldestPending !== null && now - this.oldestPending >= this.timeoutMs;
    return {
      healthy: this.lastUpdated !== null && !stalled,
      body: { lastUpdated: new Date(this.lastUpdated ?? 0).toISOString(), currentTime: new Date(now).toISOString() },
    };
  }
}
