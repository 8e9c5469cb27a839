/**
 * Measures the drift audit at scale, in network namespaces of its own (root needed): N ClusterIP
 * services with one endpoint each in the tree layout (or --layout flat), for each mode, after a full sync:
 * - the first audit (`backend.audit()`, both families: in iptables-nft mode the monitor has just
 *   started, so the tables are read whole) and the next (hook and top chains, the monitor's news):
 *   wall time, the agent's CPU, chains listed and tool calls;
 * - beside it, what a full listing costs: `iptables-<mode>-save` of nat and filter.
 *
 *   npx tsx --conditions=kplane-source packages/backend-iptables/scripts/measure-audit.ts [--services 20000] [--modes nft,legacy] [--rounds 5] [--layout tree|flat]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, createLogger, createProxy, type Batch, type Executor, type Query, type SourceEvent, type WatchedTool } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import plugin, { type IptablesBackend, type Mode } from '../src/index.js';
import { TOP_CHAINS, TREE_CHAIN } from '../src/planner/audit.js';
import { TestNetwork } from '../test/support/netns.js';

const { values: flags } = parseArgs({
  options: {
    services: { type: 'string', default: '20000' },
    modes: { type: 'string', default: 'nft,legacy' },
    rounds: { type: 'string', default: '5' },
    layout: { type: 'string', default: 'tree' },
  },
});
const SERVICES = Number(flags.services);
const ROUNDS = Number(flags.rounds);

/** Counts and times the reads (listings) the audit makes. */
class CountingExecutor implements Executor {
  readonly live = true;
  reads = 0;

  constructor(private readonly inner: Executor) {}

  apply(batch: Batch): Promise<void> {
    return this.inner.apply(batch);
  }

  watch(query: Query, onLine: (line: string) => void): WatchedTool {
    return this.inner.watch!(query, onLine);
  }

  read(query: Query): Promise<string> {
    this.reads++;
    return this.inner.read(query);
  }
}

function upsert(object: Record<string, unknown>): SourceEvent {
  return { action: 'upsert', kind: object.kind as 'Service', object };
}

function world(count: number): SourceEvent[] {
  return Array.from({ length: count }, (_, index) => [
    upsert(serviceObject(`s${index}`, { clusterIPs: [`10.${96 + (index >> 16)}.${(index >> 8) & 255}.${index & 255}`], ports: [{ name: 'http', port: 80 }] })),
    upsert(endpointSliceObject(`s${index}`, { name: `s${index}-4`, ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: `10.244.${(index >> 8) & 255}.${index & 255}`, nodeName: 'n' }] })),
  ]).flat();
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number): number => Number(value.toFixed(1));

/** Wall and CPU (ms, medians over the rounds) and reads of one call. */
async function timed(executor: CountingExecutor, work: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number; reads: number }> {
  const walls: number[] = [];
  const cpus: number[] = [];
  let reads = 0;
  for (let index = 0; index < ROUNDS; index++) {
    const before = executor.reads;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const result = await work();
    walls.push(performance.now() - start);
    const used = process.cpuUsage(cpu);
    cpus.push((used.user + used.system) / 1000);
    reads = executor.reads - before;
    if (Array.isArray(result) && result.length > 0) throw new Error(`unexpected drift: ${result.slice(0, 3).join('; ')}`);
  }
  return { wallMs: round(median(walls)), cpuMs: round(median(cpus)), reads };
}

for (const mode of flags.modes.split(',') as Mode[]) {
  const network = await TestNetwork.create();
  try {
    const executor = new CountingExecutor(network.executor);
    const { engine, backend } = createProxy({
      config: { ...DEFAULT_CONFIG, nodeName: 'n', clusterCIDRs: ['10.250.1.0/24'], backendOptions: new Map([['mode', mode], ['layout', flags.layout]]) },
      executor,
      logger: createLogger(process.env.KPLANE_LOG ?? 'warn'),
    }, plugin);
    const iptables = backend as IptablesBackend;
    await iptables.init();
    engine.handle(world(SERVICES));
    if (!(await engine.sync())) throw new Error('full sync failed');
    const model = iptables.tables(4)!;
    const names = [...model.chainNames('nat'), ...model.chainNames('filter')];
    const top = names.filter((chain) => TOP_CHAINS.has(chain)).length;
    const tree = names.filter((chain) => TREE_CHAIN.test(chain)).length;
    const result: Record<string, unknown> = { mode, layout: flags.layout, services: SERVICES, chains: names.length, top, tree };
    result.firstAudit = await timed(executor, () => iptables.audit());
    result.audit = await timed(executor, () => iptables.audit());
    result.fullSave = await timed(executor, async () => {
      for (const table of ['nat', 'filter']) await executor.read({ tool: `iptables-${mode}-save`, args: ['-t', table] });
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await network.destroy();
  }
}
