import { describe, expect, it } from 'vitest';
import type { SyncRequest } from '../src/index.js';
import { engineHarness, web, webEndpoints } from './support/engine-harness.js';
import { RecordingBackend } from './support/recording-backend.js';
import { resolve } from './support/resolve-options.js';

/** A recording backend whose audit answers what the test says, and notes whether a sync was running. */
class AuditingBackend extends RecordingBackend {
  drift: readonly string[] = [];
  failAudit = false;
  audits = 0;
  auditsDuringSync = 0;
  syncsDuringAudit = 0;
  /** While set, a sync waits for it (a slow `nft -f`). */
  holdSync: Promise<void> | null = null;
  /** While set, an audit waits for it (a slow listing). */
  holdAudit: Promise<void> | null = null;
  private syncing = false;
  private auditingNow = false;

  override async sync(request: SyncRequest): Promise<void> {
    if (this.auditingNow) this.syncsDuringAudit++;
    this.syncing = true;
    try {
      await this.holdSync;
      await super.sync(request);
    } finally {
      this.syncing = false;
    }
  }

  async audit(): Promise<readonly string[]> {
    this.audits++;
    if (this.syncing) this.auditsDuringSync++;
    this.auditingNow = true;
    try {
      await this.holdAudit;
      if (this.failAudit) throw new Error('nft: listing failed');
      return this.drift;
    } finally {
      this.auditingNow = false;
    }
  }
}

function started(config: Parameters<typeof engineHarness>[0] = {}) {
  const backend = new AuditingBackend();
  const proxy = engineHarness({ minSyncPeriodMs: 1000, auditPeriodMs: 5000, ...config }, backend);
  proxy.engine.handle([web(), webEndpoints(['10.1.0.1'])]);
  proxy.engine.start();
  return { ...proxy, backend };
}

describe('Engine audit', () => {
  it('on drift: warns, counts it and runs a full sync at once', async () => {
    const { clock, backend, metrics } = started();
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(1);
    backend.drift = ['ip: chain services-g1 is missing'];
    await clock.advance(5000);
    expect(backend.audits).toBe(1);
    expect(backend.syncs).toHaveLength(2);
    expect(backend.syncs[1]).toMatchObject({ full: true });
    expect(await metrics.registry.getSingleMetricAsString('kplane_drift_detected_total')).toContain('kplane_drift_detected_total{backend="recording"} 1');
    expect(await metrics.registry.getSingleMetricAsString('kplane_audit_duration_seconds')).toContain('kplane_audit_duration_seconds_count{result="drift"} 1');
  });

  it('without drift: no sync, the audit is counted as a match', async () => {
    const { clock, backend, metrics } = started();
    await clock.advance(0);
    await clock.advance(20_000);
    expect(backend.audits).toBe(4);
    expect(backend.syncs).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('kplane_drift_detected_total')).not.toContain('recording');
    expect(await metrics.registry.getSingleMetricAsString('kplane_audit_duration_seconds')).toContain('kplane_audit_duration_seconds_count{result="match"} 4');
  });

  it('an audit that throws is counted as failed and the engine goes on auditing', async () => {
    const { clock, backend, metrics, engine } = started();
    await clock.advance(0);
    backend.failAudit = true;
    await clock.advance(10_000);
    expect(backend.audits).toBe(2);
    expect(backend.syncs).toHaveLength(1);
    expect(await metrics.registry.getSingleMetricAsString('kplane_audit_duration_seconds')).toContain('kplane_audit_duration_seconds_count{result="error"} 2');
    backend.failAudit = false;
    engine.handle([webEndpoints(['10.1.0.2'])]);
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(2);
  });

  it('never audits while a sync runs or is due, and a sync waits for an audit in progress', async () => {
    const { clock, backend, engine } = started();
    await clock.advance(0);
    // A sync that takes 12 s: the audit ticks at 5 s and 10 s are skipped.
    let releaseSync!: () => void;
    backend.holdSync = new Promise((resolve) => (releaseSync = resolve));
    engine.handle([webEndpoints(['10.1.0.2'])]);
    await clock.advance(1000);
    await clock.advance(11_000);
    expect(backend.audits).toBe(0);
    backend.holdSync = null;
    releaseSync();
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(2);

    // An audit in progress (at 15 s) holds back a change's sync until it ends.
    let releaseAudit!: () => void;
    backend.holdAudit = new Promise((resolve) => (releaseAudit = resolve));
    await clock.advance(3000);
    expect(backend.audits).toBe(1);
    const before = backend.syncs.length;
    engine.handle([webEndpoints(['10.1.0.3'])]);
    await clock.advance(2000);
    expect(backend.syncs).toHaveLength(before);
    releaseAudit();
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(before + 1);
    expect(backend.auditsDuringSync).toBe(0);
    expect(backend.syncsDuringAudit).toBe(0);
  });

  it('does not audit before the first sync, nor while a failed sync waits to be retried in full', async () => {
    const backend = new AuditingBackend();
    backend.failNext = 2;
    const { clock, engine } = engineHarness({ minSyncPeriodMs: 1000, auditPeriodMs: 1000 }, backend);
    engine.handle([web()]);
    engine.start();
    // Failures at 0 and 1 s, retried at 3 s.
    await clock.advance(2500);
    expect(backend.audits).toBe(0);
    await clock.advance(1000);
    expect(backend.syncs).toHaveLength(1);
    await clock.advance(1000);
    expect(backend.audits).toBeGreaterThan(0);
  });

  it('--audit-period 0 never audits', async () => {
    const { clock, backend } = started({ auditPeriodMs: 0 });
    await clock.advance(0);
    backend.drift = ['ip: table kplane is missing'];
    await clock.advance(60_000);
    expect(backend.audits).toBe(0);
    expect(backend.syncs).toHaveLength(1);
  });

  it('--audit-period sets the period: 5 s by default, 0 disables', () => {
    const base = ['--node-name', 'n1', '--node-ip', '192.168.0.1'];
    expect(resolve(base).options.config.auditPeriodMs).toBe(5000);
    expect(resolve([...base, '--audit-period', '2s']).options.config.auditPeriodMs).toBe(2000);
    expect(resolve([...base, '--audit-period', '0']).options.config.auditPeriodMs).toBe(0);
  });
});
