import type { ContainerModule } from 'inversify';
import type { DataplaneBackend } from './backend/contract.js';
import type { ProxyConfig } from './config/proxy-config.js';
import type { Clock } from './engine/clock.js';
import { createContainer, type Runtime } from './di/container.js';
import { TOKENS } from './di/tokens.js';
import type { Engine } from './engine/engine.js';
import type { ProxyMetrics } from './metrics/proxy-metrics.js';
import type { DebugViews } from './debug/debug-views.js';

/** A wired proxy: what the CLI runs, and what tests, the demo and the bench drive in-process. */
export interface Proxy {
  readonly engine: Engine;
  readonly backend: DataplaneBackend;
  readonly metrics: ProxyMetrics;
  /** What the debug endpoint and `kplane explain` show. */
  readonly debug: DebugViews;
}

/** The embedding entry point: core wired by the container, with the plugin's backend (and whatever else its module rebinds). */
export function createProxy(runtime: Runtime, backendModule: ContainerModule): Proxy {
  const container = createContainer(runtime, backendModule);
  const backend = container.get<DataplaneBackend>(TOKENS.Backend);
  const metrics = container.get<ProxyMetrics>(TOKENS.Metrics);
  const config = container.get<ProxyConfig>(TOKENS.Config);
  if (config.serviceCounters) {
    if (!backend.readServiceCounters) throw new Error(`--service-counters: the ${backend.name} backend keeps no per-Service counters`);
    const clock = container.get<Clock>(TOKENS.Clock);
    metrics.serviceCounters.readFrom(() => backend.readServiceCounters!(), config.serviceCountersLimit, () => clock.now());
  }
  return {
    engine: container.get<Engine>(TOKENS.Engine),
    backend,
    metrics,
    debug: container.get<DebugViews>(TOKENS.DebugViews),
  };
}
