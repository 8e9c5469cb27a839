import { describe, expect, it } from 'vitest';
import { startProxyServers } from '../src/health/proxy-servers.js';
import { upsert } from '../src/testing/index.js';
import { engineHarness, web, webEndpoints } from './support/engine-harness.js';

describe('metrics and health', () => {
  it('exposes kube-proxy\'s metric names', async () => {
    const { clock, engine, metrics } = engineHarness();
    engine.handle([web(), webEndpoints(['10.1.0.1'])]);
    engine.start();
    await clock.advance(0);
    // process_*, nodejs_* and rest_client_* are the runtime's and the API client's (metrics/agent-metrics.test.ts).
    const names = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name).filter((name) => /^(kplane|kubeproxy)_/.test(name)).sort();
    expect(names).toEqual([
      'kplane_audit_duration_seconds', 'kplane_backend_sync_errors_total', 'kplane_build_info', 'kplane_draining_endpoints', 'kplane_drift_detected_total',
      'kplane_endpoints_skipped_total', 'kplane_frontend_conflicts',
      'kplane_partial_sync_failures_total', 'kplane_rejected_objects_total', 'kplane_service_bytes_total', 'kplane_service_counters_overflow_total',
      'kplane_service_counters_read_errors_total', 'kplane_service_packets_total', 'kplane_service_ports_skipped_total',
      'kubeproxy_network_programming_duration_seconds', 'kubeproxy_proxy_healthz_total', 'kubeproxy_proxy_livez_total',
      'kubeproxy_sync_full_proxy_rules_duration_seconds', 'kubeproxy_sync_partial_proxy_rules_duration_seconds',
      'kubeproxy_sync_proxy_rules_duration_seconds', 'kubeproxy_sync_proxy_rules_endpoint_changes_pending',
      'kubeproxy_sync_proxy_rules_endpoint_changes_total', 'kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total',
      'kubeproxy_sync_proxy_rules_iptables_restore_failures_total', 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds',
      'kubeproxy_sync_proxy_rules_last_timestamp_seconds', 'kubeproxy_sync_proxy_rules_nftables_sync_failures_total',
      'kubeproxy_sync_proxy_rules_no_local_endpoints_total',
      'kubeproxy_sync_proxy_rules_service_changes_pending', 'kubeproxy_sync_proxy_rules_service_changes_total',
    ]);
    expect(await metrics.registry.getSingleMetricAsString('kubeproxy_sync_proxy_rules_service_changes_total')).toMatch(/ 1$/m);
  });

  it('counts a rejected object and keeps syncing the others', async () => {
    const { clock, engine, metrics, backend } = engineHarness();
    engine.handle([web(), upsert({ kind: 'Service', metadata: { name: 'bad' }, spec: { clusterIP: 'nope', ports: [{ port: 80 }] } })]);
    engine.start();
    await clock.advance(0);
    expect(Object.keys(backend.syncs[0]!.endpoints)).toEqual(['default/web:http/TCP']);
    expect(await metrics.registry.getSingleMetricAsString('kplane_rejected_objects_total')).toContain('kplane_rejected_objects_total{kind="Service",reason="invalid"} 1');
  });

  it('serves /healthz: 503 before the first sync, 200 after, 503 when a change waits past --healthz-timeout', async () => {
    const { clock, engine, metrics, backend } = engineHarness({ healthzTimeoutMs: 60_000 });
    const servers = await startProxyServers({ metrics: '127.0.0.1:0', healthz: '127.0.0.1:0' }, engine.health, metrics);
    const get = async (path: string, port = servers.healthzPort) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: response.status, body: await response.text() };
    };
    try {
      expect((await get('/healthz')).status).toBe(503);
      engine.handle([web()]);
      engine.start();
      await clock.advance(0);
      const healthy = await get('/healthz');
      expect(healthy.status).toBe(200);
      expect(Object.keys(JSON.parse(healthy.body))).toEqual(['lastUpdated', 'currentTime', 'nodeEligible']);
      backend.failNext = 100;
      engine.handle([webEndpoints(['10.1.0.9'])]);
      await clock.advance(59_000);
      expect((await get('/healthz')).status).toBe(200);
      await clock.advance(1_000);
      expect((await get('/healthz')).status).toBe(503);
      expect((await get('/livez')).status).toBe(503);
      backend.failNext = 0;
      await clock.advance(300_000);
      expect((await get('/healthz')).status).toBe(200);
      engine.handle([upsert({ kind: 'Node', metadata: { name: 'node-a', deletionTimestamp: '2026-01-01T00:00:00Z' } })]);
      expect((await get('/healthz')).status).toBe(503);
      expect((await get('/livez')).status).toBe(200);
      const exposed = await get('/metrics', servers.metricsPort!);
      expect(exposed.body).toContain('kubeproxy_proxy_healthz_total{code="503"} 3');
    } finally {
      await servers.stop();
      await engine.stop();
    }
  });
});
