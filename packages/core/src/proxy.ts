import type { ContainerModule } from 'inversify';
import type { DataplaneBackend } from './backend/contract.js';
import { createContainer, resolveBackend, type Runtime } from './di/container.js';
import { TOKENS } from './di/tokens.js';
import { Engine } from './engine/engine.js';
import type { ProxyMetrics } from './metrics/proxy-metrics.js';

/** A wired proxy: what the CLI runs, and what tests, the demo and the bench drive in-process. */
export interface Proxy {
  readonly engine: Engine;
  readonly backend: DataplaneBackend;
  readonly metrics: ProxyMetrics;
}

export function createProxy(runtime: Runtime, backendModule: ContainerModule): Proxy {
  const container = createContainer(runtime, backendModule);
  return {
    engine: container.get(Engine),
    backend: resolveBackend(container),
    metrics: container.get<ProxyMetrics>(TOKENS.Metrics),
  };
}
