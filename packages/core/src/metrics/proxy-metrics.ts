import { injectable } from 'inversify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ipFamily } from '../model/ip.js';
import type { IPFamily } from '../model/service-port.js';
import { processMetrics } from './process-metrics.js';
import { RestClientMetrics } from './rest-client-metrics.js';
import { ServiceCounterMetrics } from './service-counters.js';

/** kube-proxy's `ip_family` label values. */
export type IPFamilyLabel = 'IPv4' | 'IPv6';
export const IP_FAMILIES: readonly IPFamilyLabel[] = ['IPv4', 'IPv6'];

/** kube-proxy's sync latency buckets (pkg/proxy/metrics): 1 ms doubling 15 times, to ~16 s. */
const SYNC_BUCKETS = Array.from({ length: 15 }, (_, index) => 0.001 * 2 ** index);
/** kube-proxy's network programming buckets: component-base's MergeBuckets starts them with 0. */
const PROGRAMMING_BUCKETS = [0, ...steps(0.25, 0.25, 2), ...steps(1, 1, 59), ...steps(60, 5, 12), ...steps(120, 30, 7)];

/** kube-proxy's failure counters of the mode matching a backend (kube-proxy registers them per mode). */
const MODE_FAILURES: Readonly<Record<string, { all: 'nftablesSyncFailures' | 'iptablesRestoreFailures'; partial?: 'iptablesPartialRestoreFailures' }>> = {
  nft: { all: 'nftablesSyncFailures' },
  iptables: { all: 'iptablesRestoreFailures', partial: 'iptablesPartialRestoreFailures' },
};

/**
 * kube-proxy's metric contract (same names, labels and buckets, subsystem `kubeproxy`), the
 * process_* and nodejs_* metrics of the process, client-go's rest_client_* for the Kubernetes
 * source, and kplane's own. kube-proxy runs one proxier per IP family, each with its own
 * `ip_family` series; one kplane sync programs every family its backend supports, so each of
 * those families' series records that sync.
 */
@injectable()
export class ProxyMetrics {
  readonly registry = new Registry();

  readonly syncDuration = this.histogram('kubeproxy_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds', SYNC_BUCKETS);
  readonly fullSyncDuration = this.histogram('kubeproxy_sync_full_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for full resyncs', SYNC_BUCKETS);
  readonly partialSyncDuration = this.histogram('kubeproxy_sync_partial_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds for partial resyncs', SYNC_BUCKETS);
  readonly networkProgrammingDuration = this.histogram('kubeproxy_network_programming_duration_seconds', 'In Cluster Network Programming Latency in seconds', PROGRAMMING_BUCKETS);
  readonly lastSyncTimestamp = this.gauge('kubeproxy_sync_proxy_rules_last_timestamp_seconds', 'The last time proxy rules were successfully synced', ['ip_family']);
  readonly lastQueuedTimestamp = this.gauge('kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', 'The last time a sync of proxy rules was queued', ['ip_family']);
  readonly endpointChangesPending = this.gauge('kubeproxy_sync_proxy_rules_endpoint_changes_pending', 'Pending proxy rules Endpoint changes');
  readonly endpointChangesTotal = this.counter('kubeproxy_sync_proxy_rules_endpoint_changes_total', 'Cumulative proxy rules Endpoint changes');
  readonly serviceChangesPending = this.gauge('kubeproxy_sync_proxy_rules_service_changes_pending', 'Pending proxy rules Service changes');
  readonly serviceChangesTotal = this.counter('kubeproxy_sync_proxy_rules_service_changes_total', 'Cumulative proxy rules Service changes');
  readonly healthzTotal = this.counter('kubeproxy_proxy_healthz_total', 'Cumulative proxy healthz HTTP status', ['code']);
  readonly livezTotal = this.counter('kubeproxy_proxy_livez_total', 'Cumulative proxy livez HTTP status', ['code']);
  readonly noLocalEndpoints = this.gauge('kubeproxy_sync_proxy_rules_no_local_endpoints_total', 'Number of services with a Local traffic policy and no endpoints', ['ip_family', 'traffic_policy']);
  readonly nftablesSyncFailures = this.counter('kubeproxy_sync_proxy_rules_nftables_sync_failures_total', 'Cumulative proxy nftables sync failures (nft backend)', ['ip_family']);
  readonly iptablesRestoreFailures = this.counter('kubeproxy_sync_proxy_rules_iptables_restore_failures_total', 'Cumulative proxy iptables restore failures (iptables backend)', ['ip_family']);
  readonly iptablesPartialRestoreFailures = this.counter('kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total',
    'Cumulative proxy iptables partial restore failures (iptables backend; every backend: kplane_partial_sync_failures_total)', ['ip_family']);
  readonly syncErrors = this.counter('kplane_backend_sync_errors_total', 'Backend syncs that failed (the kernel keeps its last good rules)', ['backend']);
  readonly partialSyncFailures = this.counter('kplane_partial_sync_failures_total', 'Partial syncs that failed, each followed by a full one (kube-proxy\'s partial_restore_failures_total)', ['backend']);
  readonly rejectedObjects = this.counter('kplane_rejected_objects_total', 'API objects refused whole (their name or cluster IPs cannot be programmed safely)', ['kind', 'reason']);
  readonly servicePortsSkipped = this.counter('kplane_service_ports_skipped_total',
    'Service ports left out (invalid, or needing a feature the backend lacks), or programmed without some frontends (unsupported_frontend)', ['reason']);
  readonly frontendConflicts = this.gauge('kplane_frontend_conflicts', 'Frontends (IP:port/protocol or node port) not programmed for a Service port because an older Service claims them');
  readonly endpointsSkipped = this.counter('kplane_endpoints_skipped_total', 'Endpoints left out of their EndpointSlice (an address that cannot be programmed safely)', ['reason']);
  readonly drainingEndpoints = this.gauge('kplane_draining_endpoints', 'Endpoints taking no new connections while their established ones finish');
  readonly driftDetected = this.counter('kplane_drift_detected_total', 'Audits that found kplane\'s rules in the kernel changed from outside (each is repaired by a full sync)', ['backend']);
  readonly auditDuration = this.histogram('kplane_audit_duration_seconds', 'What one drift audit of the kernel took, by result (match, drift, error)', SYNC_BUCKETS, ['result']);
  readonly buildInfo = this.gauge('kplane_build_info', 'kplane build information', ['version', 'backend']);
  /** The Kubernetes source's requests to the API server. */
  readonly restClient = new RestClientMetrics(this.registry);
  /** Per-Service traffic (--service-counters), read from the backend at scrape time. */
  readonly serviceCounters = new ServiceCounterMetrics(this.registry);

  constructor() {
    for (const metric of processMetrics()) this.registry.registerMetric(metric);
  }

  /** A sync that succeeded: its latency, in every family it programmed. */
  recordSync(families: readonly IPFamilyLabel[], full: boolean, seconds: number): void {
    for (const ip_family of families) {
      this.syncDuration.observe({ ip_family }, seconds);
      (full ? this.fullSyncDuration : this.partialSyncDuration).observe({ ip_family }, seconds);
    }
  }

  /** A sync that failed: kplane's counters by backend, and kube-proxy's of the backend's mode. */
  recordSyncFailure(backend: string, families: readonly IPFamilyLabel[], full: boolean): void {
    this.syncErrors.inc({ backend });
    if (!full) this.partialSyncFailures.inc({ backend });
    const mode = MODE_FAILURES[backend];
    if (!mode) return;
    for (const ip_family of families) {
      this[mode.all].inc({ ip_family });
      if (!full && mode.partial) this[mode.partial].inc({ ip_family });
    }
  }

  /** When a sync was last queued (`atMs`: epoch milliseconds). */
  recordQueued(families: readonly IPFamilyLabel[], atMs: number): void {
    for (const ip_family of families) this.lastQueuedTimestamp.set({ ip_family }, atMs / 1000);
  }

  /** When proxy rules were last synced (`atMs`: epoch milliseconds). */
  recordSynced(families: readonly IPFamilyLabel[], atMs: number): void {
    for (const ip_family of families) this.lastSyncTimestamp.set({ ip_family }, atMs / 1000);
  }

  /** The changes a sync programmed: from each EndpointSlice's trigger time (epoch ms) to `nowMs`, in the slice's family. */
  recordProgrammed(triggers: readonly { readonly at: number; readonly family: IPFamily }[], nowMs: number): void {
    for (const { at, family } of triggers) this.networkProgrammingDuration.observe({ ip_family: familyLabel(family) }, Math.max(0, nowMs - at) / 1000);
  }

  /** Service ports with a Local traffic policy and no local endpoints (each as its cluster IPs), counted per family as kube-proxy's proxiers do. */
  recordNoLocalEndpoints(families: readonly IPFamilyLabel[], byPolicy: Readonly<Record<'internal' | 'external', ReadonlyMap<unknown, readonly string[]>>>): void {
    for (const [traffic_policy, ports] of Object.entries(byPolicy)) {
      const counts = new Map<IPFamilyLabel, number>();
      for (const clusterIPs of ports.values()) {
        for (const family of new Set(clusterIPs.map((ip) => familyLabel(ipFamily(ip))))) counts.set(family, (counts.get(family) ?? 0) + 1);
      }
      for (const ip_family of families) this.noLocalEndpoints.set({ ip_family, traffic_policy }, counts.get(ip_family) ?? 0);
    }
  }

  private histogram(name: string, help: string, buckets: number[], labelNames = ['ip_family']): Histogram {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

/** `count` values from `start`, `width` apart (client_golang's LinearBuckets). */
function steps(start: number, width: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => start + width * index);
}

function familyLabel(family: IPFamily): IPFamilyLabel {
  return family === 4 ? 'IPv4' : 'IPv6';
}

/** The IP families a backend programs, as kube-proxy labels them. */
export function familyLabels(features: ReadonlySet<string>): IPFamilyLabel[] {
  return IP_FAMILIES.filter((family) => features.has(family));
}
