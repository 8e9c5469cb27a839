/**
 * `npm run demo`: kplane in a sandbox of network namespaces, on examples/services.yaml.
 *
 * Builds one namespace per pod named in the manifests' EndpointSlices (plus a node, a client pod
 * and an outside client), runs the real `kplane run` agent in the node namespace with the file
 * source, sends traffic to every service, edits an endpoint and shows how fast the change is live.
 * Everything it makes is removed on exit or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Table from 'cli-table3';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { parseManifests } from '@kplane/core';
import { SANDBOX_NETWORK, Sandbox, type NamespaceAgent, type PodSpec, type ProbeResult } from '@kplane/conformance/sandbox';

const ROOT = resolve(import.meta.dirname, '../..');
const MANIFESTS = join(ROOT, 'examples/services.yaml');
const PREFIX = 'kpdemo';
const NODE_NAME = 'kplane-demo';

const { values: options } = parseArgs({ options: { backend: { type: 'string', default: 'nft' }, keep: { type: 'boolean', default: false } } });

interface Probe {
  readonly service: string;
  readonly frontend: string;
  readonly from: 'client pod' | 'outside';
  readonly host: string;
  readonly port: number;
  readonly udp?: boolean;
  readonly times?: number;
}

/** What the demo sends, and from where: every kind of frontend in examples/services.yaml. */
const PROBES: readonly Probe[] = [
  { service: 'web (http)', frontend: 'ClusterIP 10.96.0.10:80', from: 'client pod', host: '10.96.0.10', port: 80, times: 4 },
  { service: 'web (http, IPv6)', frontend: 'ClusterIP [fd00:10:96::10]:80', from: 'client pod', host: 'fd00:10:96::10', port: 80, times: 4 },
  { service: 'web (admin)', frontend: 'ClusterIP 10.96.0.10:8081', from: 'client pod', host: '10.96.0.10', port: 8081, times: 2 },
  { service: 'dns (UDP)', frontend: 'ClusterIP 10.96.0.53:53/udp', from: 'client pod', host: '10.96.0.53', port: 53, udp: true, times: 4 },
  { service: 'shop', frontend: 'NodePort 192.168.50.1:30080', from: 'outside', host: '192.168.50.1', port: 30080, times: 4 },
  { service: 'session (ClientIP affinity)', frontend: 'ClusterIP 10.96.0.40:80', from: 'client pod', host: '10.96.0.40', port: 80, times: 5 },
  { service: 'edge (LB, eTP Local)', frontend: 'LoadBalancer 198.51.100.50:80', from: 'outside', host: '198.51.100.50', port: 80, times: 4 },
  { service: 'empty (no endpoints)', frontend: 'ClusterIP 10.96.0.60:80', from: 'client pod', host: '10.96.0.60', port: 80 },
  { service: 'rollout (one terminating)', frontend: 'ClusterIP 10.96.0.70:80', from: 'client pod', host: '10.96.0.70', port: 80, times: 4 },
];

/** One pod per targetRef in the EndpointSlices, with its addresses and the ports it must serve. */
function podsOf(manifests: ReturnType<typeof parseManifests>): PodSpec[] {
  const pods = new Map<string, { ipv4: string; ipv6: string; nodeName: string; tcp: Set<number>; udp: Set<number> }>();
  for (const { kind, object } of manifests.values()) {
    if (kind !== 'EndpointSlice') continue;
    const slice = object as { addressType: string; ports: { port: number; protocol?: string }[]; endpoints: { addresses: string[]; nodeName: string; targetRef: { name: string } }[] };
    for (const endpoint of slice.endpoints) {
      const pod = pods.get(endpoint.targetRef.name) ?? { ipv4: '', ipv6: '', nodeName: endpoint.nodeName, tcp: new Set(), udp: new Set() };
      if (slice.addressType === 'IPv6') pod.ipv6 = endpoint.addresses[0]!;
      else pod.ipv4 = endpoint.addresses[0]!;
      for (const port of slice.ports) (port.protocol === 'UDP' ? pod.udp : pod.tcp).add(port.port);
      pods.set(endpoint.targetRef.name, pod);
    }
  }
  return [...pods].map(([name, pod], index) => ({
    name, nodeName: pod.nodeName, tcp: [...pod.tcp], udp: [...pod.udp],
    ipv4: pod.ipv4, ipv6: pod.ipv6 || `fd00:10:244:99::${index + 1}`,
  }));
}

async function probe(agent: NamespaceAgent, { host, port, udp }: Probe): Promise<ProbeResult> {
  return udp ? agent.udp(host, port, { timeoutMs: 1500 }) : agent.tcp(host, port, { timeoutMs: 1500 });
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function removeLeftovers(): Promise<void> {
  const { stdout } = await execa('ip', ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0]!;
    if (name.startsWith(`${PREFIX}-`)) await execa('ip', ['netns', 'delete', name], { reject: false });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the demo builds network namespaces: run it as root');
  if (options.backend === 'ipvs') throw new Error('the ipvs backend needs a kernel with ip_vs, which this machine lacks (its tests run in a VM: scripts/ipvs-vm)');
  await removeLeftovers();
  const manifests = parseManifests(readFileSync(MANIFESTS, 'utf8'));
  const pods = podsOf(manifests);
  process.stdout.write(`Building the sandbox: a node, ${pods.length} pods (${pods.map((pod) => pod.name).join(', ')}), a client pod and an outside client...\n`);
  const sandbox = await Sandbox.create(pods, PREFIX);
  const workdir = mkdtempSync(join(tmpdir(), 'kplane-demo-'));
  let agent: ChildProcess | undefined;
  const shutdown = async (): Promise<void> => {
    agent?.kill('SIGTERM');
    await sandbox.destroy();
    rmSync(workdir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void shutdown().then(() => process.exit(130)));
  try {
    const file = join(workdir, 'services.yaml');
    copyFileSync(MANIFESTS, file);
    const args = [
      'netns', 'exec', sandbox.nodeNamespace, process.execPath, join(ROOT, 'packages/core/bin/kplane.js'), 'run',
      '--backend', options.backend!, '--source', `file:${file}`, '--node-name', NODE_NAME,
      '--node-ip', SANDBOX_NETWORK.nodeIPs[0], '--node-ip', SANDBOX_NETWORK.nodeIPs[1], '--cluster-cidr', SANDBOX_NETWORK.clusterCIDRs.join(','),
    ];
    const log = join(workdir, 'kplane.log');
    process.stdout.write(`Starting kplane (${options.backend} backend) in the node namespace:\n  kplane ${args.slice(5).join(' ')}\n`);
    agent = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let agentLog = '';
    agent.stderr!.on('data', (chunk: Buffer) => {
      agentLog += chunk.toString();
      appendFileSync(log, chunk);
    });
    const started = Date.now();
    await waitFor('kplane to sync', async () => {
      if (agent!.exitCode !== null) throw new Error(`kplane exited:\n${agentLog}`);
      return (await sandbox.node.http('http://127.0.0.1:10256/healthz')).status === 200 ? true : undefined;
    });
    const synced = Date.now();
    process.stdout.write(`kplane synced the rules ${synced - started} ms after start (/healthz is 200).\n\n`);

    const table = new Table({ head: ['service', 'frontend', 'from', 'answered by', 'source the pod saw', 'connect'] });
    for (const entry of PROBES) {
      const agentFor = entry.from === 'outside' ? sandbox.external : sandbox.client;
      const results = [];
      for (let i = 0; i < (entry.times ?? 1); i++) results.push(await probe(agentFor, entry));
      const answered = results.filter((result) => result.ok);
      const refused = results.find((result) => !result.ok);
      const latencies = answered.map((result) => result.connectMs).filter((ms): ms is number => ms !== undefined);
      table.push([
        entry.service, entry.frontend, entry.from,
        answered.length > 0 ? [...new Set(answered.map((result) => `${result.answer.pod}:${result.answer.port}`))].join(', ') : `refused (${refused && !refused.ok ? refused.error : ''})`,
        [...new Set(answered.map((result) => result.answer.from))].join(', '),
        latencies.length > 0 ? `${(latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(2)} ms` : entry.udp && answered.length > 0 ? 'udp' : '-',
      ]);
    }
    process.stdout.write(`${table.toString()}\n\n`);

    // kplane syncs at most once per --min-sync-period (1 s, like kube-proxy); an edit after a quiet
    // second is synced at once, which is what the timing below shows.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1100 - (Date.now() - synced))));
    process.stdout.write('Editing the manifests: web loses its pod web-1 (the file is replaced by rename, like an editor saves)...\n');
    const edited = [...manifests.values()].map(({ object }) => {
      const metadata = object.metadata as { name: string };
      if (metadata.name !== 'web-v4' && metadata.name !== 'web-v6') return object;
      const slice = object as { endpoints: { targetRef: { name: string } }[] };
      return { ...object, endpoints: slice.endpoints.filter((endpoint) => endpoint.targetRef.name !== 'web-1') };
    });
    const editedAt = performance.now();
    writeFileSync(`${file}.tmp`, edited.map((object) => stringify(object)).join('---\n'));
    renameSync(`${file}.tmp`, file);
    // Live = the next connections all reach web-2 (web-1 was half of them before).
    const liveMs = await waitFor('the edit to be live', async () => {
      for (let i = 0; i < 8; i++) {
        const result = await sandbox.client.tcp('10.96.0.10', 80);
        if (!result.ok || result.answer.pod !== 'web-2') return undefined;
      }
      return performance.now() - editedAt;
    });
    process.stdout.write(`The change was live ${liveMs.toFixed(0)} ms after the file was written (file watch, sync, and 8 connections that all reached web-2).\n\n`);

    const metrics = await sandbox.node.http('http://127.0.0.1:10249/metrics');
    // The sync metrics carry ip_family, as kube-proxy's do.
    const wanted = /^(kubeproxy_sync_proxy_rules_duration_seconds_(sum|count)\{.*|kubeproxy_sync_proxy_rules_last_timestamp_seconds\{.*|kubeproxy_sync_proxy_rules_service_changes_total|kubeproxy_sync_proxy_rules_endpoint_changes_total|kplane_rejected_objects_total\{.*) /;
    process.stdout.write(`Some of kplane's metrics (127.0.0.1:10249/metrics in the node namespace):\n${(metrics.body ?? '').split('\n').filter((line) => wanted.test(line)).map((line) => `  ${line}`).join('\n')}\n`);
    process.stdout.write(`All of them: sudo ip netns exec ${sandbox.nodeNamespace} curl -s 127.0.0.1:10249/metrics\n`);
    if (options.keep) {
      process.stdout.write(`\nThe sandbox stays up (Ctrl-C removes it). Try:\n  sudo ip netns exec ${sandbox.nodeNamespace} nft list ruleset\n  sudo ip netns exec ${PREFIX}-client curl -s 10.96.0.30:80  # (pods answer any line)\n  kplane's log: ${log}\n`);
      await new Promise(() => {});
    }
  } finally {
    await shutdown();
    process.stdout.write('\nRemoved the sandbox (namespaces, rules, processes, files).\n');
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
