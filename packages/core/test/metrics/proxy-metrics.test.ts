import { describe, expect, it } from 'vitest';
import { FEATURES, type Feature } from '../../src/index.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { endpointSliceObject, serviceObject, upsert } from '../../src/testing/index.js';
import { engineHarness, web, webEndpoints } from '../support/engine-harness.js';
import { RecordingBackend } from '../support/recording-backend.js';

type Labels = Record<string, string | number>;

/** The samples of one metric, as prom-client reports them. */
async function samples(metrics: ProxyMetrics, name: string): Promise<{ labels: Labels; value: number; metricName?: string }[]> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  if (!metric) throw new Error(`${name} is not registered`);
  return metric.values as { labels: Labels; value: number; metricName?: string }[];
}

async function value(metrics: ProxyMetrics, name: string, labels: Labels, sample = name): Promise<number | undefined> {
  const found = (await samples(metrics, name)).find((entry) => (entry.metricName ?? name) === sample
    && Object.entries(labels).every(([key, wanted]) => String(entry.labels[key]) === String(wanted))
    && Object.keys(entry.labels).filter((key) => key !== 'le').length === Object.keys(labels).filter((key) => key !== 'le').length);
  return found?.value;
}

/** A recording backend under a built-in backend's name, with the features given. */
function backendNamed(name: string, features: readonly Feature[] = FEATURES): RecordingBackend {
  return Object.assign(new RecordingBackend(false, new Set(features)), { name });
}

describe('process metrics', () => {
  it('are in every proxy\'s registry, created once per process (each creation would start a monitor that never stops)', async () => {
    const [first, second] = [new ProxyMetrics(), new ProxyMetrics()];
    for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) {
      expect(first.registry.getSingleMetric(name), name).toBeDefined();
      expect(first.registry.getSingleMetric(name)).toBe(second.registry.getSingleMetric(name));
    }
    expect(await first.registry.metrics()).toMatch(/^process_resident_memory_bytes \d+$/m);
  });
});

describe('kube-proxy metric parity', () => {
  it('labels sync latencies and timestamps with ip_family, once per family the backend programs, in kube-proxy\'s buckets', async () => {
    const { clock, engine, metrics } = engineHarness({}, backendNamed('nft', FEATURES.filter((feature) => feature !== 'IPv6')));
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    expect(await value(metrics, 'kubeproxy_sync_proxy_rules_duration_seconds', { ip_family: 'IPv4' }, 'kubeproxy_sync_proxy_rules_duration_seconds_count')).toBe(1);
    expect(await value(metrics, 'kubeproxy_sync_full_proxy_rules_duration_seconds', { ip_family: 'IPv4' }, 'kubeproxy_sync_full_proxy_rules_duration_seconds_count')).toBe(1);
    // A backend without IPv6 programs no IPv6 rules: no IPv6 series, as kube-proxy has no IPv6 proxier then.
    expect(await value(metrics, 'kubeproxy_sync_proxy_rules_duration_seconds', { ip_family: 'IPv6' }, 'kubeproxy_sync_proxy_rules_duration_seconds_count')).toBeUndefined();
    expect(await value(metrics, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', { ip_family: 'IPv4' })).toBe(clock.now() / 1000);
    expect(await value(metrics, 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', { ip_family: 'IPv4' })).toBe(clock.now() / 1000);
    const bounds = (await samples(metrics, 'kubeproxy_sync_proxy_rules_duration_seconds'))
      .filter((entry) => entry.metricName?.endsWith('_bucket') && entry.labels.le !== '+Inf').map((entry) => Number(entry.labels.le));
    // prometheus.ExponentialBuckets(0.001, 2, 15)
    expect(bounds).toEqual([0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384]);
    await engine.stop();
  });

  it('observes network programming latency in the family of the EndpointSlice that changed, in kube-proxy\'s buckets', async () => {
    const { clock, engine, metrics } = engineHarness();
    const changedAt = new Date(clock.now() - 2500).toISOString();
    engine.handle([
      upsert(serviceObject('web', { clusterIPs: ['10.96.0.1', 'fd00::1'], ports: [{ name: 'http', port: 80 }] })),
      upsert(endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: 'fd01::1' }], triggerTime: changedAt })),
    ]);
    engine.start();
    await clock.advance(0);
    const count = (family: string) => value(metrics, 'kubeproxy_network_programming_duration_seconds', { ip_family: family }, 'kubeproxy_network_programming_duration_seconds_count');
    expect(await count('IPv6')).toBe(1);
    expect(await count('IPv4')).toBeUndefined();
    expect(await value(metrics, 'kubeproxy_network_programming_duration_seconds', { ip_family: 'IPv6' }, 'kubeproxy_network_programming_duration_seconds_sum')).toBeCloseTo(2.5);
    const bounds = (await samples(metrics, 'kubeproxy_network_programming_duration_seconds'))
      .filter((entry) => entry.metricName?.endsWith('_bucket') && entry.labels.ip_family === 'IPv6' && entry.labels.le !== '+Inf').map((entry) => Number(entry.labels.le));
    // MergeBuckets(Linear(0.25, 0.25, 2), Linear(1, 1, 59), Linear(60, 5, 12), Linear(120, 30, 7)), which starts with 0.
    expect(bounds).toHaveLength(81);
    expect(bounds.slice(0, 5)).toEqual([0, 0.25, 0.5, 1, 2]);
    expect(bounds.slice(61, 65)).toEqual([59, 60, 65, 70]);
    expect(bounds.slice(-3)).toEqual([240, 270, 300]);
    await engine.stop();
  });

  it('counts a failed partial sync under kube-proxy\'s iptables names for the iptables backend, and nft failures under nftables_sync_failures', async () => {
    for (const [name, counters] of [
      ['iptables', ['kubeproxy_sync_proxy_rules_iptables_restore_failures_total', 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total']],
      ['nft', ['kubeproxy_sync_proxy_rules_nftables_sync_failures_total']],
    ] as const) {
      const backend = backendNamed(name);
      const { clock, engine, metrics } = engineHarness({}, backend);
      engine.handle([web(), webEndpoints(['10.1.0.1'])]);
      engine.start();
      await clock.advance(0);
      backend.failNext = 1;
      engine.handle([webEndpoints(['10.1.0.2'])]);
      await clock.advance(1000);
      for (const counter of counters) {
        for (const family of ['IPv4', 'IPv6']) expect(await value(metrics, counter, { ip_family: family }), `${name} ${counter} ${family}`).toBe(1);
      }
      expect(await value(metrics, 'kplane_partial_sync_failures_total', { backend: name })).toBe(1);
      await engine.stop();
    }
  });

  it('counts Services with a Local traffic policy and no local endpoints per family of their cluster IPs', async () => {
    const { clock, engine, metrics } = engineHarness();
    const local = (name: string, clusterIPs: string[]) => upsert(serviceObject(name, { clusterIPs, internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80 }] }));
    engine.handle([local('dual', ['10.96.0.1', 'fd00::1']), local('v6', ['fd00::2'])]);
    engine.start();
    await clock.advance(0);
    const count = (family: string) => value(metrics, 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', { ip_family: family, traffic_policy: 'internal' });
    expect(await count('IPv4')).toBe(1);
    expect(await count('IPv6')).toBe(2);
    expect(await value(metrics, 'kubeproxy_sync_proxy_rules_no_local_endpoints_total', { ip_family: 'IPv6', traffic_policy: 'external' })).toBe(0);
    await engine.stop();
  });
});
