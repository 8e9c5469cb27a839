import { injectable } from 'inversify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** kube-proxy's metric contract (same names, subsystem `kubeproxy`) plus kplane's own. */
@injectable()
export class ProxyMetrics {
  readonly registry = new Registry();

  readonly syncDuration = this.histogram('kubeproxy_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds', []);
  readonly fullSyncDuration = this.histogram('kubeproxy_sync_full_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for full resyncs', []);
  readonly partialSyncDuration = this.histogram('kubeproxy_sync_partial_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for partial resyncs', []);
  readonly networkProgrammingDuration = new Histogram({
    name: 'kubeproxy_network_programming_duration_seconds',
    help: 'In Cluster Network Programming Latency in seconds',
    buckets: [0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly lastSyncTimestamp = this.gauge('kubeproxy_sync_proxy_rules_last_timestamp_seconds', 'The last time proxy rules were successfully synced');
  readonly lastQueuedTimestamp = this.gauge('kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', 'The last time a sync of proxy rules was queued');
  readonly endpointChangesPending = this.gauge('kubeproxy_sync_proxy_rules_endpoint_changes_pending', 'Pending proxy rules Endpoint changes');
  readonly endpointChangesTotal = this.counter('kubeproxy_sync_proxy_rules_endpoint_changes_total', 'Cumulative proxy rules Endpoint changes');
  readonly serviceChangesPending = this.gauge('kubeproxy_sync_proxy_rules_service_changes_pending', 'Pending proxy rules Service changes');
  readonly serviceChangesTotal = this.counter('kubeproxy_sync_proxy_rules_service_changes_total', 'Cumulative proxy rules Service changes');
  readonly healthzTotal = this.counter('kubeproxy_proxy_healthz_total', 'Cumulative proxy healthz HTTP status', ['code']);
  readonly livezTotal = this.counter('kubeproxy_proxy_livez_total', 'Cumulative proxy livez HTTP status', ['code']);
  readonly noLocalEndpoints = this.gauge('kubeproxy_sync_proxy_rules_no_local_endpoints_total', 'Number of services with a Local traffic policy and no endpoints', ['traffic_policy']);
  readonly syncErrors = this.counter('kplane_backend_sync_errors_total', 'Backend syncs that failed (the kernel keeps its last good rules)', ['backend']);
  readonly partialSyncFailures = this.counter('kplane_partial_sync_failures_total', 'Partial syncs that failed, each followed by a full one (kube-proxy\'s partial_restore_failures_total)', ['backend']);
  readonly rejectedObjects = this.counter('kplane_rejected_objects_total', 'API objects refused whole (their name or cluster IPs cannot be programmed safely)', ['kind', 'reason']);
  readonly servicePortsSkipped = this.counter('kplane_service_ports_skipped_total',
    'Service ports left out (invalid, or needing a feature the backend lacks), or programmed without some frontends (unsupported_frontend)', ['reason']);
  readonly frontendConflicts = this.gauge('kplane_frontend_conflicts', 'Frontends (IP:port/protocol or node port) not programmed for a Service port because an older Service claims them');
  readonly endpointsSkipped = this.counter('kplane_endpoints_skipped_total', 'Endpoints left out of their EndpointSlice (an address that cannot be programmed safely)', ['reason']);
  readonly drainingEndpoints = this.gauge('kplane_draining_endpoints', 'Endpoints taking no new connections while their established ones finish');
  readonly driftDetected = this.counter('kplane_drift_detected_total', 'Audits that found kplane\'s rules in the kernel changed from outside (each is repaired by a full sync)', ['backend']);
  readonly auditDuration = this.histogram('kplane_audit_duration_seconds', 'What one drift audit of the kernel took, by result (match, drift, error)', ['result']);
  readonly buildInfo = this.gauge('kplane_build_info', 'kplane build information', ['version', 'backend']);

  private histogram(name: string, help: string, labelNames: string[]): Histogram {
    // kube-proxy's buckets: 1 ms doubling to ~16 s.
    return new Histogram({ name, help, labelNames, buckets: Array.from({ length: 15 }, (_, i) => 0.001 * 2 ** i), registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}
