import { performance } from 'node:perf_hooks';
import { wrapHttpLibrary, type HttpLibrary } from '@kubernetes/client-node';
import type { RestClientMetrics } from '../../metrics/rest-client-metrics.js';

/**
 * Where the source's requests to the API server are measured (client-go's rest_client_* metrics):
 * the generated APIs' lists and Event creates through their HTTP library, watches as they start.
 */
export function meteredHttpApi(inner: HttpLibrary, metrics: RestClientMetrics): HttpLibrary {
  return wrapHttpLibrary({
    send: async (request) => {
      const startedAt = performance.now();
      const method = request.getHttpMethod().toString();
      try {
        const response = await inner.send(request).toPromise();
        metrics.record(method, request.getUrl(), response.httpStatusCode, secondsSince(startedAt));
        return response;
      } catch (error) {
        metrics.record(method, request.getUrl(), null, secondsSince(startedAt));
        throw error;
      }
    },
  });
}

/** A watch request once client-node's Watch returned: streaming (200), or failed with `error` (with its status, if a response came). */
export function recordWatch(metrics: RestClientMetrics | undefined, url: string, startedAt: number, error: unknown): void {
  const status = (error as { statusCode?: unknown } | null | undefined)?.statusCode;
  const code = error === undefined || error === null ? 200 : typeof status === 'number' ? status : null;
  metrics?.record('GET', url, code, secondsSince(startedAt));
}

function secondsSince(startedAt: number): number {
  return (performance.now() - startedAt) / 1000;
}
