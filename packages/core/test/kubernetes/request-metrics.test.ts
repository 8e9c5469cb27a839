import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/index.js';
import { KubernetesSource } from '../../src/kubernetes.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { NODE, fillCluster } from './harness.js';

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

function source(kubeconfig: string, metrics: ProxyMetrics): KubernetesSource {
  const started = new KubernetesSource({
    kubeconfig, qps: 1000, burst: 1000, nodeName: NODE, serviceProxyName: '', backoff: { initialMs: 20, maxMs: 200 }, requestMetrics: metrics.restClient,
  }, createLogger('silent'));
  stops.push(() => started.stop());
  return started;
}

/** rest_client_requests_total by `code method` for one host. */
async function requests(metrics: ProxyMetrics, host: string): Promise<Record<string, number>> {
  const { values } = await metrics.restClient.requests.get();
  return Object.fromEntries(values.filter((entry) => entry.labels.host === host).map((entry) => [`${entry.labels.code} ${entry.labels.method}`, entry.value]));
}

describe('the Kubernetes source\'s requests in client-go\'s rest_client_* metrics', () => {
  it('counts every list and watch by code, method and host, with its latency by verb and host', async () => {
    const server = await FakeApiServer.start();
    stops.push(() => server.stop());
    fillCluster(server, 2, 1, 1);
    const metrics = new ProxyMetrics();
    const watched = source(server.writeKubeconfig(), metrics);
    await watched.start(() => {});
    const host = new URL(server.url).host;
    // Four collections, each listed once and then watched (the watches start just after the lists).
    await expect.poll(async () => (await requests(metrics, host))['200 GET']).toBe(8);
    const { values } = await metrics.restClient.duration.get();
    expect(values.find((entry) => entry.metricName === 'rest_client_request_duration_seconds_count' && entry.labels.verb === 'GET' && entry.labels.host === host)?.value).toBe(8);
  });

  it('counts a request that got no response as <error>', async () => {
    const server = await FakeApiServer.start();
    const kubeconfig = server.writeKubeconfig();
    const host = new URL(server.url).host;
    // Nobody listens there any more: the lists fail before any response.
    await server.stop();
    const metrics = new ProxyMetrics();
    void source(kubeconfig, metrics).start(() => {});
    await expect.poll(async () => (await requests(metrics, host))['<error> GET'] ?? 0).toBeGreaterThan(0);
    expect(Object.keys(await requests(metrics, host)).every((key) => key === '<error> GET')).toBe(true);
  });
});
