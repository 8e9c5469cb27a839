import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CLI, ROOT, toolShims } from '../support/cli.js';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { freePort } from '../support/loopback.js';
import { NODE, fillCluster } from '../kubernetes/harness.js';

/**
 * The kube-proxy metrics kplane promises (pkg/proxy/metrics, client-go's rest_client_*, client_golang's
 * process collector): kube-proxy's type and label names. `sampled`: a series exists once the first
 * sync is done (the others may have no sample until something happens, a failure say).
 */
const PROMISED: Readonly<Record<string, { type: string; labels: readonly string[]; sampled?: boolean }>> = {
  kubeproxy_sync_proxy_rules_duration_seconds: { type: 'histogram', labels: ['ip_family'], sampled: true },
  kubeproxy_sync_full_proxy_rules_duration_seconds: { type: 'histogram', labels: ['ip_family'], sampled: true },
  kubeproxy_sync_partial_proxy_rules_duration_seconds: { type: 'histogram', labels: ['ip_family'] },
  kubeproxy_network_programming_duration_seconds: { type: 'histogram', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_last_timestamp_seconds: { type: 'gauge', labels: ['ip_family'], sampled: true },
  kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds: { type: 'gauge', labels: ['ip_family'], sampled: true },
  kubeproxy_sync_proxy_rules_endpoint_changes_pending: { type: 'gauge', labels: [], sampled: true },
  kubeproxy_sync_proxy_rules_endpoint_changes_total: { type: 'counter', labels: [], sampled: true },
  kubeproxy_sync_proxy_rules_service_changes_pending: { type: 'gauge', labels: [], sampled: true },
  kubeproxy_sync_proxy_rules_service_changes_total: { type: 'counter', labels: [], sampled: true },
  kubeproxy_sync_proxy_rules_no_local_endpoints_total: { type: 'gauge', labels: ['ip_family', 'traffic_policy'], sampled: true },
  kubeproxy_proxy_healthz_total: { type: 'counter', labels: ['code'], sampled: true },
  kubeproxy_proxy_livez_total: { type: 'counter', labels: ['code'] },
  kubeproxy_sync_proxy_rules_iptables_restore_failures_total: { type: 'counter', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total: { type: 'counter', labels: ['ip_family'] },
  kubeproxy_sync_proxy_rules_nftables_sync_failures_total: { type: 'counter', labels: ['ip_family'] },
  rest_client_requests_total: { type: 'counter', labels: ['code', 'host', 'method'], sampled: true },
  rest_client_request_duration_seconds: { type: 'histogram', labels: ['host', 'verb'], sampled: true },
  process_cpu_seconds_total: { type: 'counter', labels: [], sampled: true },
  process_resident_memory_bytes: { type: 'gauge', labels: [], sampled: true },
  process_virtual_memory_bytes: { type: 'gauge', labels: [], sampled: true },
  process_open_fds: { type: 'gauge', labels: [], sampled: true },
  process_max_fds: { type: 'gauge', labels: [], sampled: true },
  process_start_time_seconds: { type: 'gauge', labels: [], sampled: true },
  nodejs_heap_size_used_bytes: { type: 'gauge', labels: [], sampled: true },
  nodejs_eventloop_lag_seconds: { type: 'gauge', labels: [], sampled: true },
};

/** kube-proxy metrics kplane does not export, and why (README, "Metrics and health"). */
const NOT_PROMISED: Readonly<Record<string, string>> = {
  kubeproxy_sync_proxy_rules_iptables_total: 'rule counts per table: kplane\'s rule layouts differ from kube-proxy\'s',
  kubeproxy_sync_proxy_rules_iptables_last: 'likewise',
  kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total: 'kplane has no separate stale-chain cleanup pass',
  kubeproxy_conntrack_reconciler_sync_duration_seconds: 'kplane deletes stale UDP entries after each sync, not in a reconciler',
  kubeproxy_conntrack_reconciler_deleted_entries_total: 'likewise',
  kubeproxy_iptables_ct_state_invalid_dropped_packets_total: 'kplane writes no ct state invalid drop rule',
  kubeproxy_iptables_localhost_nodeports_accepted_packets_total: 'no nfacct counters',
  kubernetes_build_info: 'kplane_build_info{version,backend} instead',
};

interface Scrape {
  readonly types: ReadonlyMap<string, string>;
  /** Sample label names (le and quantile aside) per metric family. */
  readonly labels: ReadonlyMap<string, ReadonlySet<string>>;
}

function parseExposition(text: string): Scrape {
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const family = types.get(sample[1]!) ? sample[1]! : sample[1]!.replace(/_(bucket|sum|count)$/, '');
    const names = [...(sample[2] ?? '').matchAll(/(\w+)="/g)].map((match) => match[1]!).filter((name) => name !== 'le' && name !== 'quantile');
    const set = labels.get(family) ?? new Set<string>();
    for (const name of names) set.add(name);
    labels.set(family, set);
  }
  return { types, labels };
}

/** Is `name`, as a query uses it, a series the scrape holds (a histogram's _bucket, _sum, _count included)? */
function exported(scrape: Scrape, name: string): boolean {
  if (scrape.types.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return base !== name && scrape.types.get(base) === 'histogram';
}

const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'topk', 'bottomk', 'quantile', 'stddev', 'stdvar', 'group', 'count_values',
  'rate', 'irate', 'increase', 'delta', 'deriv', 'changes', 'resets', 'histogram_quantile', 'time', 'vector', 'scalar',
  'abs', 'absent', 'clamp_min', 'clamp_max', 'label_replace', 'sort', 'sort_desc', 'and', 'or', 'unless', 'offset', 'bool',
]);

/** The metric names a PromQL expression reads: what is left once labels, ranges, grouping and functions are taken out. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...new Set([...bare.matchAll(/[a-zA-Z_:][\w:]*/g)].map((match) => match[0]).filter((word) => !PROMQL_WORDS.has(word)))];
}

const DEPLOY = join(ROOT, 'deploy/monitoring');
const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana-dashboard.json'), 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; query?: unknown }[] };
};
const rule = parseAllDocuments(readFileSync(join(DEPLOY, 'prometheus-rule.yaml'), 'utf8'))[0]!.toJS() as {
  spec: { groups: { rules: { alert: string; expr: string }[] }[] };
};
/** Every query the dashboard and the alerts run, by where it is. */
const QUERIES: readonly [string, string][] = [
  ...dashboard.panels.flatMap((panel) => panel.targets.map((target): [string, string] => [`panel "${panel.title}"`, target.expr])),
  ...dashboard.templating.list.filter((variable) => typeof variable.query === 'object')
    .map((variable): [string, string] => [`variable ${variable.name}`, /label_values\(([^,)]+)/.exec((variable.query as { query: string }).query)![1]!]),
  ...rule.spec.groups.flatMap((group) => group.rules.map((entry): [string, string] => [`alert ${entry.alert}`, entry.expr])),
];

describe('a running agent\'s /metrics', () => {
  let server: FakeApiServer;
  let agent: ChildProcess;
  let scrape: Scrape;

  beforeAll(async () => {
    server = await FakeApiServer.start();
    fillCluster(server, 3, 1, 2);
    const [metricsPort, healthzPort] = [await freePort(), await freePort()];
    // Recording tool shims on PATH: the agent (the example jsonl backend) cannot touch the kernel.
    const { env } = toolShims();
    agent = spawn(CLI[0], [...CLI.slice(1), 'run', '--kubeconfig', server.writeKubeconfig(), '--node-name', NODE, '--node-ip', '192.168.0.10',
      '--backend-module', './examples/custom-backend', '--backend-opt', 'file=/dev/null',
      '--metrics-bind-address', `127.0.0.1:${metricsPort}`, '--healthz-bind-address', `127.0.0.1:${healthzPort}`, '--log-level', 'warn'],
    { cwd: ROOT, env, stdio: 'ignore' });
    const get = async (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`).then(async (response) => ({ status: response.status, body: await response.text() }), () => null);
    // Once /healthz answers 200 the first sync is done.
    const deadline = Date.now() + 50_000;
    while ((await get(healthzPort, '/healthz'))?.status !== 200) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`the agent did not sync (exit ${agent.exitCode})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    scrape = parseExposition((await get(metricsPort, '/metrics'))!.body);
  }, 60_000);

  afterAll(async () => {
    agent?.kill('SIGKILL');
    await server?.stop();
  });

  it('exports every kube-proxy metric kplane promises, with kube-proxy\'s type and label names', () => {
    for (const [name, promised] of Object.entries(PROMISED)) {
      expect(scrape.types.get(name), name).toBe(promised.type);
      const labels = [...(scrape.labels.get(name) ?? [])].sort();
      if (promised.sampled) expect(scrape.labels.has(name), `${name} has a sample after the first sync`).toBe(true);
      if (scrape.labels.has(name)) expect(labels, `${name} labels`).toEqual([...promised.labels].sort());
    }
    // The jsonl backend programs both families: one series per family, as kube-proxy's two proxiers.
    expect(scrape.labels.get('kubeproxy_sync_proxy_rules_duration_seconds')).toContain('ip_family');
  });

  it('exports none of the kube-proxy metrics it does not promise', () => {
    for (const name of Object.keys(NOT_PROMISED)) expect(scrape.types.has(name), name).toBe(false);
  });

  it('exports every metric the Grafana dashboard and the PrometheusRule read', () => {
    expect(QUERIES.length).toBeGreaterThan(15);
    const missing = QUERIES.flatMap(([where, expr]) => metricNames(expr).filter((name) => !exported(scrape, name)).map((name) => `${where}: ${name}`));
    expect(missing).toEqual([]);
    // Per-Service traffic (--service-counters) is exported whether the flag is on or not (no samples then).
    for (const name of ['kplane_service_packets_total', 'kplane_service_bytes_total']) expect(QUERIES.some(([, expr]) => metricNames(expr).includes(name)), name).toBe(true);
  });

  it('finds the metric names of a query, and so a misspelt one', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, ip_family) (rate(kubeproxy_sync_proxy_rules_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'))
      .toEqual(['kubeproxy_sync_proxy_rules_duration_seconds_bucket']);
    expect(metricNames('sum by (instance) (increase(kplane_backend_sync_errorz_total[10m])) > 0 and on (instance) time() - up > 120')).toEqual(['kplane_backend_sync_errorz_total', 'up']);
    expect(exported(scrape, 'kplane_backend_sync_errorz_total')).toBe(false);
    expect(exported(scrape, 'kubeproxy_network_programming_duration_seconds_bucket')).toBe(true);
    expect(exported(scrape, 'kplane_backend_sync_errors_total_bucket')).toBe(false);
  });
});
