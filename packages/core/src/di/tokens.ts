/**
 * Injection tokens. `Symbol.for` keeps them identical even if a plugin ends up with its own copy
 * of @kplane/core, so a plugin's binding is always the one core resolves. A plugin binds `Backend`
 * and may rebind any other token (its replacement gets the same `@inject` parameters).
 */
export const TOKENS = {
  /** The active DataplaneBackend: the one binding every plugin makes. */
  Backend: Symbol.for('kplane.DataplaneBackend'),
  /** ProxyConfig: the node's settings. */
  Config: Symbol.for('kplane.ProxyConfig'),
  /** Executor: runs (or, for `kplane plan`, records) tool batches. */
  Executor: Symbol.for('kplane.Executor'),
  /** pino Logger. */
  Logger: Symbol.for('kplane.Logger'),
  /** Clock. */
  Clock: Symbol.for('kplane.Clock'),
  /** ProxyMetrics. */
  Metrics: Symbol.for('kplane.ProxyMetrics'),
  /** Engine: the sync loop that drives the backend. */
  Engine: Symbol.for('kplane.Engine'),
  /** ChangeTracker: the desired state, and what changed since the last sync. */
  Tracker: Symbol.for('kplane.ChangeTracker'),
  /** ObjectIntake: validates source events into the tracker. */
  Intake: Symbol.for('kplane.ObjectIntake'),
  /** SyncRunner: when syncs run (bounded frequency, backoff). */
  SyncRunner: Symbol.for('kplane.SyncRunner'),
  /** DrainScheduler: endpoints that left the selection, until their connections end. */
  DrainScheduler: Symbol.for('kplane.DrainScheduler'),
  /** DesiredState: what the backend is handed (the tracker's state with the drains). */
  DesiredState: Symbol.for('kplane.DesiredState'),
  /** ConntrackCleaner: deletes the UDP conntrack entries a sync made stale. */
  ConntrackCleaner: Symbol.for('kplane.ConntrackCleaner'),
  /** HealthState: /healthz and /livez. */
  HealthState: Symbol.for('kplane.HealthState'),
  /** SyncRecorder: the last syncs and their batches, for /debug/sync. */
  SyncRecorder: Symbol.for('kplane.SyncRecorder'),
  /** DebugViews: what /debug/sync, /debug/services and `kplane explain` show. */
  DebugViews: Symbol.for('kplane.DebugViews'),
  /** HealthCheckPorts: the healthCheckNodePorts the service health server answers. */
  HealthCheckPorts: Symbol.for('kplane.HealthCheckPorts'),
} as const;
