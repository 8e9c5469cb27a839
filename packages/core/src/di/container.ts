import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import type { Logger } from 'pino';
import type { DataplaneBackend } from '../backend/contract.js';
import type { Executor } from '../backend/executor.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import { systemClock, type Clock } from '../engine/clock.js';
import { Engine } from '../engine/engine.js';
import { ProxyMetrics } from '../metrics/proxy-metrics.js';
import { TOKENS } from './tokens.js';

export interface Runtime {
  readonly config: ProxyConfig;
  readonly executor: Executor;
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** The composition root: core services bound to their tokens, then the backend module on top. */
export function createContainer(runtime: Runtime, backendModule: ContainerModule): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(TOKENS.Config).toConstantValue(runtime.config);
  container.bind(TOKENS.Executor).toConstantValue(runtime.executor);
  container.bind(TOKENS.Logger).toConstantValue(runtime.logger);
  container.bind(TOKENS.Clock).toConstantValue(runtime.clock ?? systemClock);
  container.bind(TOKENS.Metrics).toConstantValue(new ProxyMetrics());
  container.bind(Engine).toSelf();
  container.load(backendModule);
  if (!container.isBound(TOKENS.Backend)) throw new Error('the backend module binds nothing to TOKENS.Backend');
  return container;
}

export function resolveBackend(container: Container): DataplaneBackend {
  return container.get<DataplaneBackend>(TOKENS.Backend);
}
