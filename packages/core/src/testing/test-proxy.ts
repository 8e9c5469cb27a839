import type { ContainerModule } from 'inversify';
import { DryRunExecutor, type Batch, type Executor } from '../backend/executor.js';
import { DEFAULT_CONFIG, type ProxyConfig } from '../config/proxy-config.js';
import { createLogger } from '../logging/logger.js';
import { createProxy } from '../proxy.js';
import type { SourceEvent } from '../source/source.js';
import { FakeClock } from './fake-clock.js';

export interface TestProxyOptions<E extends Executor> {
  /** Laid over DEFAULT_CONFIG with `nodeName: 'node-a'`. */
  readonly config?: Partial<ProxyConfig>;
  /** A DryRunExecutor by default. */
  readonly executor?: E;
  /** A FakeClock by default. */
  readonly clock?: FakeClock;
}

/**
 * A proxy driven by core's engine, as the agent drives it, but one sync at a time: `start()` runs
 * the backend's init and the first (full) sync, each `sync()` one more (partial) sync. Both fail
 * the test when the sync fails, and return the batches the executor recorded during it (when the
 * executor records: a DryRunExecutor or FakeExecutor). Logs are silent unless KPLANE_LOG is set.
 */
export function testProxy<E extends Executor = DryRunExecutor>(plugin: ContainerModule, options: TestProxyOptions<E> = {}) {
  const executor = options.executor ?? (new DryRunExecutor() as Executor as E);
  const clock = options.clock ?? new FakeClock();
  const config: ProxyConfig = { ...DEFAULT_CONFIG, nodeName: 'node-a', ...options.config };
  const proxy = createProxy({ config, executor, logger: createLogger(process.env.KPLANE_LOG ?? 'silent'), clock }, plugin);
  const recorded: readonly Batch[] = 'batches' in executor && Array.isArray(executor.batches) ? executor.batches : [];

  const sync = async (events: readonly SourceEvent[] = []): Promise<Batch[]> => {
    const before = recorded.length;
    proxy.engine.handle(events);
    if (!(await proxy.engine.sync())) throw new Error('the sync failed (KPLANE_LOG=error shows why)');
    return recorded.slice(before);
  };

  return {
    ...proxy,
    config,
    executor,
    clock,
    /** The backend's init() and the first (full) sync of `events`. */
    start: async (events: readonly SourceEvent[] = []): Promise<Batch[]> => {
      await proxy.backend.init();
      return sync(events);
    },
    /** Hands the engine `events` and runs one sync to its end. */
    sync,
  };
}
