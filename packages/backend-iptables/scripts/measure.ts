/**
 * Measures the iptables backend at scale, in network namespaces of its own (root needed):
 * N ClusterIP services with 2 endpoints each, for each mode (iptables-nft, iptables-legacy) and
 * layout (tree with each leaf size asked for, flat):
 * - the full restore (what a full sync sends) and one change (an endpoint replaced; a service
 *   added), as the time of the `iptables-restore` call and of the whole sync;
 * - first-packet TCP connect latency from a client namespace to the first and the last service
 *   (first and last in the flat chain's order), through the node namespace's rules.
 *
 *   npx tsx --conditions=kplane-source packages/backend-iptables/scripts/measure.ts \
 *     [--services 20000] [--modes nft,legacy] [--layouts tree,flat] [--leaf-sizes 32] [--changes 5] [--samples 300] [--settle 15]
 *
 * Between configurations it waits --settle seconds: the kernel tears a namespace's 60,000 chains
 * down in the background, which would otherwise slow the next configuration's full restore.
 *
 * Prints one JSON line per configuration, then a summary table. Cross-backend figures come from the
 * bench (bench/RESULTS.md); this script sweeps the iptables backend's own settings (leaf size) and
 * counts the rules a packet walks.
 */
import { parseArgs } from 'node:util';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DEFAULT_CONFIG, createLogger, createProxy, type Batch, type Executor, type Query, type SourceEvent } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import plugin, { type IptablesBackend, type Mode } from '../src/index.js';
import { TestNetwork } from '../test/support/netns.js';
import { trace } from '../test/support/trace.js';

const run = promisify(execFile);

const { values: flags } = parseArgs({
  options: {
    services: { type: 'string', default: '20000' },
    modes: { type: 'string', default: 'nft,legacy' },
    layouts: { type: 'string', default: 'tree,flat' },
    'leaf-sizes': { type: 'string', default: '32' },
    changes: { type: 'string', default: '5' },
    samples: { type: 'string', default: '300' },
    settle: { type: 'string', default: '15' },
  },
});
const SERVICES = Number(flags.services);
const CHANGES = Number(flags.changes);
const SAMPLES = Number(flags.samples);

/** The test server (netns.ts) answers on 8080 and 9090: the two endpoints of the first and last services. */
const SERVER_IP = '10.250.2.2';

/** Times every restore the backend sends. */
class TimedExecutor implements Executor {
  readonly live = true;
  readonly restores: { ms: number }[] = [];

  constructor(private readonly inner: Executor) {}

  async apply(batch: Batch): Promise<void> {
    const start = performance.now();
    await this.inner.apply(batch);
    if (batch.tool.endsWith('-restore')) this.restores.push({ ms: performance.now() - start });
  }

  read(query: Query): Promise<string> {
    return this.inner.read(query);
  }
}

/** Distinct cluster IPs spread over 10.96.0.0/12, as the API server allocates them (a fixed seed: every run the same). */
function clusterIPs(count: number): string[] {
  let seed = 0x2545f491;
  const random = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(0x0a600000 + 1 + Math.floor(random() * (2 ** 20 - 2)));
  return [...chosen].map((value) => [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.'));
}

function upsert(object: Record<string, unknown>): SourceEvent {
  return { action: 'upsert', kind: object.kind as 'Service', object };
}

function slice(service: string, ips: readonly string[], port = 8080, name = `${service}-ipv4`): SourceEvent {
  return upsert(endpointSliceObject(service, { name, ports: [{ name: 'http', port }], endpoints: ips.map((ip) => ({ ip, nodeName: 'measure-node' })) }));
}

function world(ips: readonly string[], real: ReadonlySet<string>): SourceEvent[] {
  return ips.flatMap((ip, index) => [
    upsert(serviceObject(`s${index}`, { clusterIPs: [ip], ports: [{ name: 'http', port: 80 }] })),
    // The services probed for latency reach the test server (two endpoints: its two ports); the others point at pods that do not exist.
    ...(real.has(ip)
      ? [slice(`s${index}`, [SERVER_IP], 8080), slice(`s${index}`, [SERVER_IP], 9090, `s${index}-b`)]
      : [slice(`s${index}`, [`10.244.${(index >> 8) & 255}.${index & 255}`, `10.245.${(index >> 8) & 255}.${index & 255}`])]),
  ]);
}

/** Sequential connects alternating between targets; prints the connect times (ms) per target as JSON. */
const LATENCY_CLIENT = `
const net = require('net');
const targets = JSON.parse(process.argv[1]);
const count = Number(process.argv[2]);
const times = targets.map(() => []);
const once = ([host, port]) => new Promise((resolve, reject) => {
  const start = process.hrtime.bigint();
  const socket = net.connect({ host, port }, () => { socket.destroy(); resolve(Number(process.hrtime.bigint() - start) / 1e6); });
  socket.on('error', reject);
});
(async () => {
  for (let i = 0; i < count; i++) for (let t = 0; t < targets.length; t++) times[t].push(await once(targets[t]));
  console.log(JSON.stringify(times));
})().catch((error) => { console.error(error.message); process.exit(1); });`;

async function connectTimes(network: TestNetwork, targets: readonly string[]): Promise<number[][]> {
  const { stdout } = await run('ip', ['netns', 'exec', network.client, process.execPath, '-e', LATENCY_CLIENT, JSON.stringify(targets.map((ip) => [ip, 80])), String(SAMPLES)]);
  return JSON.parse(stdout) as number[][];
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const percentile = (values: readonly number[], share: number): number => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * share)]!;
const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

interface Result {
  readonly mode: Mode;
  readonly layout: string;
  readonly leafSize: number | null;
  readonly depth: number;
  readonly chains: number;
  /** Rules the first packet is matched against before it reaches its service chain (nat table, dispatch only). */
  readonly firstRules: number;
  readonly lastRules: number;
  readonly fullSyncS: number;
  readonly fullRestoreS: number;
  readonly endpointChangeRestoreMs: number;
  readonly endpointChangeSyncMs: number;
  readonly serviceAddRestoreMs: number;
  readonly serviceAddSyncMs: number;
  readonly firstConnectMs: number;
  readonly lastConnectMs: number;
  readonly firstConnectP90Ms: number;
  readonly lastConnectP90Ms: number;
  readonly lastOverFirst: number;
}

async function measure(mode: Mode, layout: 'tree' | 'flat', leafSize: number | null, ips: readonly string[]): Promise<Result> {
  const network = await TestNetwork.create();
  try {
    const sorted = [...ips].sort((a, b) => ipNumber(a) - ipNumber(b));
    const [first, last] = [sorted[0]!, sorted[sorted.length - 1]!];
    const executor = new TimedExecutor(network.executor);
    const options: Record<string, string> = { mode, layout, ...(leafSize && { 'leaf-size': String(leafSize) }) };
    const { engine, backend } = createProxy({
      config: { ...DEFAULT_CONFIG, nodeName: 'measure-node', clusterCIDRs: ['10.250.1.0/24'], backendOptions: new Map(Object.entries(options)) },
      executor,
      logger: createLogger(process.env.KPLANE_LOG ?? 'warn'),
    }, plugin);
    const iptables = backend as IptablesBackend;
    await iptables.init();
    engine.handle(world(ips, new Set([first, last])));

    const sync = async (): Promise<{ syncMs: number; restoreMs: number }> => {
      const before = executor.restores.length;
      const start = performance.now();
      if (!(await engine.sync())) throw new Error('sync failed (KPLANE_LOG=error shows why)');
      const restoreMs = executor.restores.slice(before).reduce((sum, restore) => sum + restore.ms, 0);
      return { syncMs: performance.now() - start, restoreMs };
    };

    const progress = (what: string) => process.stderr.write(`${new Date().toISOString()} ${mode} ${layout}${leafSize ? ` K=${leafSize}` : ''}: ${what}\n`);
    progress('full sync');
    const full = await sync();
    const tables = iptables.tables(4)!;
    const nat = tables.writtenChains('nat');
    const chains = nat.size + tables.writtenChains('filter').size;
    const [firstRules, lastRules] = [first, last].map((ip) => trace(nat, { destination: ip, protocol: 'tcp', port: 80 }).rules);

    progress('changes');
    const endpointChanges: { syncMs: number; restoreMs: number }[] = [];
    const additions: { syncMs: number; restoreMs: number }[] = [];
    for (let round = 0; round < CHANGES; round++) {
      const index = Math.floor(((round + 0.5) / CHANGES) * (ips.length - 2)) + 1;
      engine.handle([slice(`s${index}`, [`10.244.${(index >> 8) & 255}.${index & 255}`, `10.246.${round}.${index & 255}`])]);
      endpointChanges.push(await sync());
      engine.handle([upsert(serviceObject(`added${round}`, { clusterIPs: [`10.111.${round}.1`], ports: [{ name: 'http', port: 80 }] }))]);
      additions.push(await sync());
    }

    progress('connect latency');
    // Warm up (ARP, the server's accept path), then measure.
    await connectTimes(network, [first, last]);
    const [firstTimes, lastTimes] = await connectTimes(network, [first, last]);
    return {
      mode,
      layout,
      leafSize,
      depth: tables.addresses.depth(),
      chains,
      firstRules: firstRules!,
      lastRules: lastRules!,
      fullSyncS: round(full.syncMs / 1000),
      fullRestoreS: round(full.restoreMs / 1000),
      endpointChangeRestoreMs: round(median(endpointChanges.map((change) => change.restoreMs)), 1),
      endpointChangeSyncMs: round(median(endpointChanges.map((change) => change.syncMs)), 1),
      serviceAddRestoreMs: round(median(additions.map((change) => change.restoreMs)), 1),
      serviceAddSyncMs: round(median(additions.map((change) => change.syncMs)), 1),
      firstConnectMs: round(median(firstTimes!)),
      lastConnectMs: round(median(lastTimes!)),
      firstConnectP90Ms: round(percentile(firstTimes!, 0.9)),
      lastConnectP90Ms: round(percentile(lastTimes!, 0.9)),
      lastOverFirst: round(median(lastTimes!) / median(firstTimes!), 2),
    };
  } finally {
    await network.destroy();
  }
}

function ipNumber(ip: string): number {
  return ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

const ips = clusterIPs(SERVICES);
const results: Result[] = [];
const layouts = flags.layouts.split(',');
for (const mode of flags.modes.split(',') as Mode[]) {
  const configurations = [
    ...(layouts.includes('tree') ? flags['leaf-sizes'].split(',').map((size) => ({ layout: 'tree' as const, leafSize: Number(size) })) : []),
    ...(layouts.includes('flat') ? [{ layout: 'flat' as const, leafSize: null }] : []),
  ];
  for (const { layout, leafSize } of configurations) {
    if (results.length > 0) await new Promise((resolve) => setTimeout(resolve, Number(flags.settle) * 1000));
    results.push(await measure(mode, layout, leafSize, ips));
    process.stdout.write(`${JSON.stringify(results.at(-1))}\n`);
  }
}

process.stdout.write(`\n${SERVICES} services, 2 endpoints each; change times are medians of ${CHANGES}, connect times medians of ${SAMPLES}\n\n`);
process.stdout.write('| mode | layout | depth | chains | rules to first / last | full restore s | endpoint change restore ms | service add restore ms | flat full restore / tree service add | connect first ms | connect last ms | last/first |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n');
for (const result of results) {
  const flat = results.find((other) => other.mode === result.mode && other.layout === 'flat');
  const speedup = result.layout === 'tree' && flat ? `${round((flat.fullRestoreS * 1000) / result.serviceAddRestoreMs, 1)}x` : '';
  process.stdout.write(`| ${result.mode} | ${result.layout}${result.leafSize ? ` (K=${result.leafSize})` : ''} | ${result.depth} | ${result.chains} | ${result.firstRules} / ${result.lastRules} | ${result.fullRestoreS} | ${result.endpointChangeRestoreMs} | ${result.serviceAddRestoreMs} | ${speedup} | ${result.firstConnectMs} | ${result.lastConnectMs} | ${result.lastOverFirst} |\n`);
}
