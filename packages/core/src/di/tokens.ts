/**
 * Injection tokens. `Symbol.for` keeps them identical even if a plugin ends up with its own copy
 * of @kplane/core, so a plugin's binding is always the one core resolves.
 */
export const TOKENS = {
  /** The active DataplaneBackend. */
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
} as const;
