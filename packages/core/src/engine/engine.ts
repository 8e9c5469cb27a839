import { inject, injectable } from 'inversify';
import type { Logger } from 'pino';
import type { DataplaneBackend } from '../backend/contract.js';
import { ToolError } from '../backend/executor.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { TOKENS } from '../di/tokens.js';
import type { HealthState } from '../health/health-state.js';
import { familyLabels, type IPFamilyLabel, type ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { Endpoint, ServicePortKey, ServicePortState } from '../model/service-port.js';
import type { Rejection, SourceEvent } from '../source/source.js';
import type { ChangeTracker, TrackedChanges } from '../tracker/change-tracker.js';
import type { ObjectIntake } from '../tracker/intake.js';
import { conflictMessage } from '../tracker/frontend-claims.js';
import { VERSION } from '../version.js';
import type { ValidNode } from '../validation/validate.js';
import type { Clock, Timer } from './clock.js';
import type { ConntrackCleaner, ProgrammedChange } from './conntrack-cleaner.js';
import type { DrainScheduler } from './drain-scheduler.js';
import type { HealthCheckPort, HealthCheckPorts } from './health-check-ports.js';
import type { DesiredState } from './proxy-state.js';
import type { SyncRecorder } from '../debug/sync-recorder.js';
import type { SyncRunner } from './sync-runner.js';

const DRAIN_CHECK_MS = 1000;
/** Differences an audit's warning quotes; the rest are counted. */
const DRIFT_LINES_LOGGED = 5;

/**
 * The sync loop: source events go through the intake into the tracker; the runner calls `sync()`
 * at a bounded frequency; each sync hands the backend only what changed (or everything, for a full
 * reconcile), then cleans stale conntrack entries, updates drains, metrics and health.
 * Every collaborator comes from the container (di/container.ts), so a plugin can replace any of them.
 */
@injectable()
export class Engine {
  /** What the last successful sync programmed, per UDP port: the basis of conntrack cleanup (only UDP flows go stale). */
  private readonly programmed = new Map<ServicePortKey, ServicePortState>();
  private readonly drainChanged = new Set<ServicePortKey>();
  /** Ports with a Local traffic policy and no local endpoints, per policy, with their cluster IPs (the families they count in). */
  private readonly noLocalEndpoints = { internal: new Map<ServicePortKey, readonly string[]>(), external: new Map<ServicePortKey, readonly string[]>() };
  /** The IP families every sync programs (the backend's): kube-proxy's `ip_family` series. */
  private readonly families: readonly IPFamilyLabel[];
  private readonly syncListeners: (() => Promise<void>)[] = [];
  private needFull = true;
  private lastFullAt = Number.NEGATIVE_INFINITY;
  private syncs = 0;
  private drainTimer: Timer | null = null;
  private auditTimer: Timer | null = null;
  /** The audit in progress: a sync waits for it, so an audit never reads the kernel while a sync writes it. */
  private auditing: Promise<void> | null = null;
  private started = false;

  constructor(
    @inject(TOKENS.Backend) private readonly backend: DataplaneBackend,
    @inject(TOKENS.Config) private readonly config: ProxyConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Metrics) private readonly metrics: ProxyMetrics,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Tracker) private readonly tracker: ChangeTracker,
    @inject(TOKENS.Intake) private readonly intake: ObjectIntake,
    @inject(TOKENS.SyncRunner) private readonly runner: SyncRunner,
    @inject(TOKENS.DrainScheduler) private readonly drains: DrainScheduler,
    @inject(TOKENS.DesiredState) private readonly state: DesiredState,
    @inject(TOKENS.ConntrackCleaner) private readonly conntrack: ConntrackCleaner,
    @inject(TOKENS.HealthState) readonly health: HealthState,
    @inject(TOKENS.HealthCheckPorts) private readonly healthChecks: HealthCheckPorts,
    @inject(TOKENS.SyncRecorder) readonly recorder: SyncRecorder,
  ) {
    this.families = familyLabels(backend.features);
    intake.onNode((name, node) => this.onNode(name, node));
    metrics.buildInfo.set({ version: VERSION, backend: backend.name }, 1);
  }

  /** The desired state as of the last sync (what `kplane plan` and tests inspect). */
  get desiredState(): DesiredState {
    return this.state;
  }

  /** Source handler: validates and records events, then asks for a sync. */
  readonly handle = (events: readonly SourceEvent[]): void => {
    for (const event of events) this.intake.apply(event);
    this.metrics.serviceChangesPending.set(this.tracker.pendingServiceChanges);
    this.metrics.endpointChangesPending.set(this.tracker.pendingEndpointChanges);
    if (!this.tracker.hasPending) return;
    this.health.queued();
    this.metrics.recordQueued(this.families, this.clock.now());
    if (this.started) this.runner.request();
  };

  /** Starts the sync loop with a full sync now. Call once the source has delivered its initial state. */
  start(): void {
    this.started = true;
    this.health.queued();
    this.runner.start(() => this.sync());
    this.scheduleAudit();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.runner.stop();
    this.drainTimer?.cancel();
    this.auditTimer?.cancel();
    await this.auditing;
    await this.runner.idle();
  }

  /** healthCheckNodePort → Service and its ready local endpoints, for the service health server. */
  get healthCheckPorts(): ReadonlyMap<number, HealthCheckPort> {
    return this.healthChecks.byPort;
  }

  /** Runs `listener` after every successful sync (the CLI keeps the healthCheckNodePort servers current with it). */
  onSynced(listener: () => Promise<void>): void {
    this.syncListeners.push(listener);
  }

  /** Calls `listener` for every object the intake refuses (the kubernetes source turns them into Events). */
  onRejected(listener: (rejection: Rejection) => void): void {
    this.intake.onRejected(listener);
  }

  /** One sync; returns false on failure (the runner then backs off and the next sync is full). */
  async sync(): Promise<boolean> {
    await this.auditing;
    const startedAt = this.clock.now();
    const full = this.needFull || startedAt - this.lastFullAt >= this.config.syncPeriodMs;
    const changes = this.tracker.take();
    for (const conflict of changes.conflicts) this.logger.warn(conflict, conflictMessage(conflict));
    this.metrics.frontendConflicts.set(this.tracker.frontendConflicts);
    for (const [key, change] of changes.ports) this.drains.update(key, change.previous, change.current);
    const changed = new Set([...changes.ports.keys(), ...this.drainChanged]);
    const present = (key: ServicePortKey): boolean => this.tracker.state.has(key);
    this.recorder.begin(full, changed.size);
    try {
      await this.backend.sync({ full, changed, state: this.state });
    } catch (error) {
      this.recorder.backendDone(changed, present, error);
      this.tracker.requeue(changes);
      for (const key of changes.ports.keys()) this.drainChanged.add(key);
      // kube-proxy's fallback: a split sync may have been applied in part, so the next sync is full.
      this.needFull = true;
      // The kernel is behind from now on: /healthz fails once this lasts past --healthz-timeout.
      this.health.queued();
      this.metrics.recordSyncFailure(this.backend.name, this.families, full);
      const tool = error instanceof ToolError ? error.logFields() : {};
      this.logger.error({ err: error, full, changed: changed.size, ...tool }, 'sync failed; the dataplane keeps its last good rules, retrying with backoff');
      return false;
    }
    this.recorder.backendDone(changed, present);
    this.drainChanged.clear();
    this.needFull = false;
    if (full) this.lastFullAt = startedAt;
    await this.afterSync(changed, changes, this.syncs++ === 0);
    this.recorder.end();
    const seconds = (this.clock.now() - startedAt) / 1000;
    this.metrics.recordSync(this.families, full, seconds);
    this.logger.debug({ full, changed: changed.size, services: this.state.size, ms: Math.round(seconds * 1000) }, 'synced');
    return true;
  }

  private async afterSync(changed: ReadonlySet<ServicePortKey>, changes: TrackedChanges, first: boolean): Promise<void> {
    const now = this.clock.now();
    const stale: ProgrammedChange[] = [];
    for (const key of changed) {
      const current = this.state.get(key);
      const before = this.programmed.get(key);
      if (current?.servicePort.protocol === 'UDP') this.programmed.set(key, current);
      else this.programmed.delete(key);
      const servicePort = current?.servicePort ?? before?.servicePort;
      if (servicePort?.protocol === 'UDP' && !first) stale.push({ servicePort, before: programmedEndpoints(before), after: programmedEndpoints(current) });
      this.trackNoLocalEndpoints(key, current);
      this.healthChecks.update(key, current);
    }
    if (this.backend.usesConntrack) {
      await this.conntrack.clean(stale).catch((error: unknown) => this.logger.warn({ err: error }, 'conntrack cleanup failed'));
    }
    this.health.updated();
    if (this.tracker.hasPending) this.health.queued();
    this.metrics.recordSynced(this.families, now);
    this.metrics.recordProgrammed(changes.triggerTimes, now);
    this.metrics.serviceChangesPending.set(this.tracker.pendingServiceChanges);
    this.metrics.endpointChangesPending.set(this.tracker.pendingEndpointChanges);
    this.metrics.recordNoLocalEndpoints(this.families, this.noLocalEndpoints);
    this.metrics.drainingEndpoints.set(this.drains.count);
    for (const listener of this.syncListeners) await listener().catch((error: unknown) => this.logger.warn({ err: error }, 'after-sync listener failed'));
    this.scheduleDrainCheck();
  }

  /** Keeps the no-local-endpoints gauges current, per changed port. */
  private trackNoLocalEndpoints(key: ServicePortKey, current: ServicePortState | undefined): void {
    const port = current?.servicePort;
    mark(this.noLocalEndpoints.internal, key, !!port?.internalTrafficLocal && current!.internalEndpoints.length === 0 ? port.clusterIPs : null);
    mark(this.noLocalEndpoints.external, key, !!port?.externalTrafficLocal && port.type !== 'ClusterIP' && current!.externalEndpoints.length === 0 ? port.clusterIPs : null);
  }

  private scheduleDrainCheck(): void {
    if (this.drainTimer || this.drains.count === 0 || !this.started) return;
    this.drainTimer = this.clock.setTimeout(() => {
      this.drainTimer = null;
      void this.drains.finish((endpoints) => this.backend.activeConnections(endpoints))
        .then((ended) => {
          for (const key of ended) this.drainChanged.add(key);
          if (ended.size > 0) this.runner.request();
          else this.scheduleDrainCheck();
        })
        .catch((error: unknown) => {
          this.logger.warn({ err: error }, 'reading active connections failed');
          this.scheduleDrainCheck();
        });
    }, DRAIN_CHECK_MS);
  }

  /**
   * Every audit period, asks the backend whether the kernel still holds what the last sync wrote.
   * A tick is skipped while a sync runs or is due, and before the first sync (nothing written yet).
   */
  private scheduleAudit(): void {
    if (!this.backend.audit || this.config.auditPeriodMs <= 0 || !this.started) return;
    this.auditTimer = this.clock.setTimeout(() => {
      this.auditTimer = null;
      if (this.runner.busy || this.needFull || this.syncs === 0) {
        this.scheduleAudit();
        return;
      }
      this.auditing = this.audit().finally(() => {
        this.auditing = null;
        this.scheduleAudit();
      });
    }, this.config.auditPeriodMs);
  }

  /** One audit: drift is logged, counted and repaired by a full sync now; a failed audit is logged and counted. */
  private async audit(): Promise<void> {
    const startedAt = this.clock.now();
    let result: 'match' | 'drift' | 'error' = 'match';
    try {
      const drift = await this.backend.audit!();
      if (drift.length > 0) {
        result = 'drift';
        this.metrics.driftDetected.inc({ backend: this.backend.name });
        this.logger.warn({ differences: drift.length, first: drift.slice(0, DRIFT_LINES_LOGGED) },
          'the kernel no longer holds what kplane wrote (changed from outside): repairing with a full sync');
        this.needFull = true;
        this.runner.request();
      }
    } catch (error) {
      result = 'error';
      this.logger.warn({ err: error }, 'audit of the kernel\'s rules failed');
    }
    this.metrics.auditDuration.observe({ result }, (this.clock.now() - startedAt) / 1000);
  }

  private onNode(name: string, node: ValidNode | null): void {
    if (name !== this.config.nodeName) return;
    this.health.setNodeEligible(node?.eligible ?? false);
  }
}

function programmedEndpoints(state: ServicePortState | undefined): Endpoint[] {
  return state ? [...state.internalEndpoints, ...state.externalEndpoints, ...state.draining] : [];
}

function mark(ports: Map<ServicePortKey, readonly string[]>, key: ServicePortKey, clusterIPs: readonly string[] | null): void {
  if (clusterIPs) ports.set(key, clusterIPs);
  else ports.delete(key);
}
