import type { Server, ServerResponse } from 'node:http';
import type { DebugViews } from '../debug/debug-views.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { HealthReport, HealthState } from './health-state.js';
import { close, listen, parseBindAddress, sendJSON, type Handler } from './http-server.js';

/**
 * /metrics and, given the debug views, /debug/sync, /debug/services and /debug/services/NAMESPACE/NAME
 * (localhost by default); /healthz + /livez (all addresses, for load balancer probes). Both under
 * the same listener limits (http-server.ts).
 */
export async function startProxyServers(
  addresses: { metrics: string; healthz: string },
  health: HealthState,
  metrics: ProxyMetrics,
  debug?: DebugViews,
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
      ...(debug && debugRoutes(debug)),
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

/** The debug endpoint's routes: JSON views of the last syncs and of the programmed state. */
function debugRoutes(debug: DebugViews): Record<string, Handler> {
  return {
    '/debug/sync': (_, response) => sendJSON(response, 200, debug.syncs()),
    '/debug/services': (_, response) => sendJSON(response, 200, debug.services()),
    '/debug/services/*': (request, response) => {
      const name = (request.url ?? '').split('?')[0]!.slice('/debug/services/'.length);
      // Kubernetes names need no escaping: NAMESPACE/NAME is taken as it comes.
      const explained = /^[\w.-]+\/[\w.-]+$/.test(name) ? debug.explain(name) : null;
      if (explained) sendJSON(response, 200, explained);
      else sendJSON(response, 404, { error: `no Service ${name} (expected /debug/services/NAMESPACE/NAME)` });
    },
  };
}
