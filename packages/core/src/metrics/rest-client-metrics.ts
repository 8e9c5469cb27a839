import { Counter, Histogram, type Registry } from 'prom-client';

/** client-go's request latency buckets (component-base/metrics/prometheus/restclient). */
const LATENCY_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];

/** What client-go records of each request to the API server, under its names and labels. */
export class RestClientMetrics {
  readonly requests: Counter;
  readonly duration: Histogram;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'rest_client_requests_total',
      help: 'Number of HTTP requests, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'rest_client_request_duration_seconds',
      help: 'Request latency in seconds. Broken down by verb, and host.',
      labelNames: ['verb', 'host'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
  }

  /**
   * One request: `code` is the HTTP status, or null when no response came (client-go's `<error>`);
   * `seconds` runs until the response's headers (for a watch, until it starts streaming).
   */
  record(method: string, url: string, code: number | null, seconds: number): void {
    const host = new URL(url).host;
    this.requests.inc({ code: code === null ? '<error>' : String(code), method, host });
    this.duration.observe({ verb: method, host }, seconds);
  }
}
