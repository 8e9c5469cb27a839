import 'reflect-metadata';
import { Container, ContainerModule } from 'inversify';
import type { Logger } from 'pino';
import type { Executor } from '../backend/executor.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { INNER_EXECUTOR, RecordingExecutor } from '../debug/recording-executor.js';
import { SyncRecorder } from '../debug/sync-recorder.js';
import { DebugViews } from '../debug/debug-views.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { ConntrackCleaner } from '../engine/conntrack-cleaner.js';
import { DrainScheduler } from '../engine/drain-scheduler.js';
import { Engine } from '../engine/engine.js';
import { HealthCheckPorts } from '../engine/health-check-ports.js';
import { DesiredState } from '../engine/proxy-state.js';
import { SyncRunner } from '../engine/sync-runner.js';
import { HealthState } from '../health/health-state.js';
import { ProxyMetrics } from '../metrics/proxy-metrics.js';
import { ChangeTracker } from '../tracker/change-tracker.js';
import { ObjectIntake } from '../tracker/intake.js';
import { TOKENS } from './tokens.js';

/** What the embedding program provides: the node's settings and its view of the host. */
export interface Runtime {
  readonly config: ProxyConfig;
  readonly executor: Executor;
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** Core's collaborators, each under its token: what a plugin module may rebind. */
function coreModule(runtime: Runtime): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(TOKENS.Config).toConstantValue(runtime.config);
    // Backends get the runtime's executor through the recorder of /debug/sync (what is written is unchanged).
    bind(INNER_EXECUTOR).toConstantValue(runtime.executor);
    bind(TOKENS.Executor).to(RecordingExecutor);
    bind(TOKENS.SyncRecorder).to(SyncRecorder);
    bind(TOKENS.DebugViews).to(DebugViews);
    bind(TOKENS.Logger).toConstantValue(runtime.logger);
    bind(TOKENS.Clock).toConstantValue(runtime.clock ?? systemClock);
    bind(TOKENS.Metrics).to(ProxyMetrics);
    bind(TOKENS.Tracker).toDynamicValue(({ get }) => {
      const config = get<ProxyConfig>(TOKENS.Config);
      return new ChangeTracker({ name: config.nodeName, zone: null }, config.serviceCIDRs);
    });
    bind(TOKENS.Intake).to(ObjectIntake);
    bind(TOKENS.SyncRunner).to(SyncRunner);
    bind(TOKENS.DrainScheduler).to(DrainScheduler);
    bind(TOKENS.DesiredState).to(DesiredState);
    bind(TOKENS.ConntrackCleaner).to(ConntrackCleaner);
    bind(TOKENS.HealthState).to(HealthState);
    bind(TOKENS.HealthCheckPorts).to(HealthCheckPorts);
    bind(TOKENS.Engine).to(Engine);
  });
}

/** The composition root: core's collaborators bound to their tokens, then the backend module on top. */
export function createContainer(runtime: Runtime, backendModule: ContainerModule): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.load(coreModule(runtime), backendModule);
  if (!container.isBound(TOKENS.Backend)) throw new Error('the backend module binds nothing to TOKENS.Backend');
  return container;
}
