import type { Server, ServerResponse } from 'node:http';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { HealthReport, HealthState } from './health-state.js';
import { close, listen, parseBindAddress, sendJSON } from './http-server.js';

/** /metrics (localhost by default) and /healthz + /livez (all addresses, for load balancer probes). */
export async function startProxyServers(
  addresses: { metrics: string; healthz: string },
  health: HealthState,
  metrics: ProxyMetrics,
): Promise<{ stop(): Promise<void>; metricsPort: number | null; healthzPort: number | null }> {
  const probe = (report: () => HealthReport, counter: typeof metrics.healthzTotal) => (_: unknown, response: ServerResponse) => {
    const { healthy, body } = report();
    counter.inc({ code: healthy ? '200' : '503' });
    sendJSON(response, healthy ? 200 : 503, body);
  };
  const servers: Server[] = [];
  let metricsPort: number | null = null;
  let healthzPort: number | null = null;
  if (addresses.metrics) {
    const started = await listen(parseBindAddress(addresses.metrics), {
      '/metrics': async (_, response) => {
        response.writeHead(200, { 'Content-Type': metrics.registry.contentType });
        response.end(await metrics.registry.metrics());
      },
    });
    servers.push(started.server);
    metricsPort = started.port;
  }
  if (addresses.healthz) {
    const started = await listen(parseBindAddress(addresses.healthz), {
      '/healthz': probe(() => health.healthz(), metrics.healthzTotal),
      '/livez': probe(() => health.livez(), metrics.livezTotal),
    });
    servers.push(started.server);
    healthzPort = started.port;
  }
  return { stop: async () => void (await Promise.all(servers.map(close))), metricsPort, healthzPort };
}
