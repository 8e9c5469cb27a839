import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';

let collected: Registry | null = null;

/**
 * prom-client's process_* and nodejs_* metrics, created once per process and shared by every
 * registry: each creation starts an event loop delay monitor and a GC observer that are never
 * stopped, and a process may hold many proxies (tests, the bench). Read at scrape time.
 */
export function processMetrics(): Metric[] {
  if (!collected) {
    collected = new Registry();
    collectDefaultMetrics({ register: collected });
  }
  const registry = collected;
  return registry.getMetricsAsArray().map((metric) => registry.getSingleMetric(metric.name)!);
}
