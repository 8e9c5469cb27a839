/**
 * How fast deep tampering is repaired at scale in iptables-nft mode, with the default flags: N
 * ClusterIP services (tree layout) programmed by the engine on the real clock (--audit-period 5 s)
 * in a network namespace of its own. Reports the audits of an idle minute (wall time, the agent's
 * CPU, the monitor's CPU and RSS), then for each tampering (KPLANE-IPS flushed, a rule deleted from
 * a leaf of the tree, a service chain flushed) the time from the change to the end of the sync
 * that repaired it, and what that sync restored.
 *
 *   npx tsx --conditions=kplane-source packages/backend-iptables/scripts/measure-drift-repair.ts [services=20000]
 */
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { DEFAULT_CONFIG, createLogger, createProxy, type Batch, type Executor, type Query, type WatchedTool } from '@kplane/core';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import plugin, { type IptablesBackend } from '../src/index.js';
import { TestNetwork } from '../test/support/netns.js';

const services = Number(process.argv[2] ?? 20_000);
const report = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Records the lines of every restore. */
class RecordingExecutor implements Executor {
  readonly live = true;
  restoredLines = 0;

  constructor(private readonly inner: Executor) {}

  apply(batch: Batch): Promise<void> {
    this.restoredLines += batch.input.split('\n').length;
    return this.inner.apply(batch);
  }

  read(query: Query): Promise<string> {
    return this.inner.read(query);
  }

  watch(query: Query, onLine: (line: string) => void): WatchedTool {
    return this.inner.watch!(query, onLine);
  }
}

const network = await TestNetwork.create();
try {
  const executor = new RecordingExecutor(network.executor);
  const config = { ...DEFAULT_CONFIG, nodeName: 'n', clusterCIDRs: ['10.250.1.0/24'], backendOptions: new Map([['mode', 'nft']]) };
  const { engine, backend, metrics } = createProxy({ config, executor, logger: createLogger(process.env.KPLANE_LOG ?? 'silent') }, plugin);
  const iptables = backend as IptablesBackend;
  const audits: number[] = [];
  const audit = iptables.audit.bind(iptables);
  iptables.audit = async () => {
    const start = performance.now();
    const drift = await audit();
    audits.push(performance.now() - start);
    return drift;
  };
  let synced = 0;
  engine.onSynced(async () => void synced++);
  await iptables.init();
  engine.handle(Array.from({ length: services }, (_, i) => [
    upsert(serviceObject(`s${i}`, { clusterIPs: [`10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`], ports: [{ name: 'http', port: 80 }] })),
    upsert(endpointSliceObject(`s${i}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: `10.244.${(i >> 8) & 255}.${i & 255}`, nodeName: 'n' }] })),
  ]).flat());
  let start = performance.now();
  engine.start();
  while (synced === 0) await sleep(100);
  report(`${services} services programmed in ${Math.round(performance.now() - start)} ms`);
  while (audits.length < 2) await sleep(100);
  report(`the first audit (tables saved whole: the monitor has just started): ${Math.round(audits[0]!)} ms`);

  // The monitor of the node's namespace: `ip netns exec` has become `nft monitor`.
  const inNode = new Set((await execa('ip', ['netns', 'pids', network.node])).stdout.split('\n'));
  const monitorPid = (await execa('pgrep', ['-x', 'nft'], { reject: false })).stdout.split('\n').find((pid) => inNode.has(pid)) ?? '';
  const monitorCpu = async (): Promise<number> => {
    const stat = (await execa('cat', [`/proc/${monitorPid}/stat`], { reject: false })).stdout.split(' ');
    return (Number(stat[13] ?? 0) + Number(stat[14] ?? 0)) / 100;
  };
  const idleFrom = audits.length;
  const [agentBefore, monitorBefore] = [process.cpuUsage(), await monitorCpu()];
  await sleep(60_000);
  const agent = process.cpuUsage(agentBefore);
  const idle = audits.slice(idleFrom).sort((a, b) => a - b);
  const rss = (await execa('ps', ['-o', 'rss=', '-p', monitorPid], { reject: false })).stdout.trim();
  report(`idle minute: ${idle.length} audits, median ${Math.round(idle[idle.length >> 1]!)} ms, max ${Math.round(idle.at(-1)!)} ms; `
    + `agent CPU ${((agent.user + agent.system) / 1e6).toFixed(2)} s, nft monitor CPU ${(await monitorCpu() - monitorBefore).toFixed(2)} s, its RSS ${Math.round(Number(rss) / 1024)} MiB`);

  const target = `-d 10.96.${(services >> 9) & 255}.${(services >> 1) & 255}/32 -p tcp`;
  const leaf = (): { chain: string; rule: string } => {
    const model = iptables.tables(4)!;
    const chain = [...model.chainNames('nat')].find((name) => /^KPLANE-IPS-\d+$/.test(name) && model.rules('nat', name)!.some((rule) => rule.startsWith(target)))!;
    return { chain, rule: model.rules('nat', chain)!.find((rule) => rule.startsWith(target))! };
  };
  const tampering: [string, () => string[]][] = [
    ['iptables -t nat -F KPLANE-IPS', () => ['-t', 'nat', '-F', 'KPLANE-IPS']],
    ['a rule deleted from a leaf of the tree', () => ['-t', 'nat', '-D', leaf().chain, ...leaf().rule.split(' ')]],
    ['a service chain flushed', () => ['-t', 'nat', '-F', /-j (KPLANE-\S+)$/.exec(leaf().rule)![1]!]],
  ];
  for (const [name, args] of tampering) {
    const [before, lines] = [synced, executor.restoredLines];
    const command = args();
    start = performance.now();
    await network.inNode('iptables-nft', ...command);
    while (synced === before) await sleep(20);
    report(`${name}: repaired (sync done) ${Math.round(performance.now() - start)} ms after the change; ${executor.restoredLines - lines} lines restored`);
    await sleep(6000);
  }
  report(`drift counted: ${(await metrics.registry.getSingleMetricAsString('kplane_drift_detected_total')).split('\n').at(-1)}`);
  await engine.stop();
} finally {
  await network.destroy();
}
