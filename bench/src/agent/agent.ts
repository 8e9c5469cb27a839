/**
 * The measured agent: one process per (backend, N), started inside the sandbox's node namespace
 * (or, for the dry-run planner measurement, anywhere) and driven over JSON lines on stdin/stdout.
 * It is kplane's engine and backend with an in-process source, so its RSS and CPU are the agent's
 * alone; the bench bundles it from the workspaces' sources (see bundle.ts) and runs it with plain
 * node, as a deployed agent runs.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import {
  DEFAULT_CONFIG, DryRunExecutor, ExecaExecutor, createLogger, createProxy,
  type Batch, type ContainerModule, type Executor, type Proxy, type ProxyConfig, type Query, type SourceEvent,
} from '@kplane/core';
import iptables from '@kplane/backend-iptables';
import ipvs from '@kplane/backend-ipvs';
import nft from '@kplane/backend-nft';
import { Workload } from '../workload.js';
import type { AgentOp, AgentRequests, Memory, PlanRun, StartRequest, SyncTiming, Usage } from './protocol.js';

const MODULES: Readonly<Record<StartRequest['backend'], ContainerModule>> = { nft, iptables, ipvs };
/** Services per page of the initial state (client-go lists in pages of 500 objects). */
const PAGE_SERVICES = 500;
/** USER_HZ: the unit of the children's CPU times in /proc/self/stat (100 on every Linux architecture the bench runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Counts what the backend sends and times every tool call, and passes them on. */
class CountingExecutor implements Executor {
  batches = 0;
  bytes = 0;
  tools = new Map<string, { calls: number; ms: number }>();

  constructor(private readonly inner: Executor) {}

  get live(): boolean {
    return this.inner.live;
  }

  apply(batch: Batch): Promise<void> {
    this.batches++;
    this.bytes += batch.input.length;
    return this.timed(batch.tool, () => this.inner.apply(batch));
  }

  read(query: Query): Promise<string> {
    return this.timed(query.tool, () => this.inner.read(query));
  }

  private async timed<T>(tool: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } finally {
      const entry = this.tools.get(tool) ?? { calls: 0, ms: 0 };
      this.tools.set(tool, { calls: entry.calls + 1, ms: entry.ms + performance.now() - started });
    }
  }
}

let proxy: Proxy | null = null;
let executor: CountingExecutor | null = null;
let workload: Workload | null = null;

const now = (): number => Number(process.hrtime.bigint());

function memory(): Memory {
  const usage = process.memoryUsage();
  return { rssBytes: usage.rss, maxRssBytes: process.resourceUsage().maxRSS * 1024, heapUsedBytes: usage.heapUsed };
}

/** CPU of this process, and of the tool processes it ran and waited for (cutime + cstime). */
function cpu(): Usage {
  const own = process.cpuUsage();
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const children = Number(fields[13]) + Number(fields[14]);
  return { cpuUserMs: own.user / 1000, cpuSystemMs: own.system / 1000, toolCpuMs: (children * 1000) / CLOCK_TICKS_PER_SECOND };
}

function since(before: Usage): Usage {
  const after = cpu();
  return { cpuUserMs: after.cpuUserMs - before.cpuUserMs, cpuSystemMs: after.cpuSystemMs - before.cpuSystemMs, toolCpuMs: after.toolCpuMs - before.toolCpuMs };
}

function config(start: StartRequest): ProxyConfig {
  return {
    ...DEFAULT_CONFIG,
    nodeName: start.nodeName,
    nodeIPs: start.nodeIPs,
    clusterCIDRs: start.clusterCIDRs,
    backendOptions: new Map(Object.entries(start.options)),
  };
}

async function createAgentProxy(start: StartRequest, inner: Executor): Promise<{ proxy: Proxy; executor: CountingExecutor }> {
  const counting = new CountingExecutor(inner);
  const created = createProxy({ config: config(start), executor: counting, logger: createLogger(process.env.KPLANE_LOG ?? 'warn') }, MODULES[start.backend]);
  await created.backend.init();
  return { proxy: created, executor: counting };
}

/**
 * One sync driven by hand (no runner, so no --min-sync-period): the pages of events enter the engine,
 * then the backend writes. Each page is released once handled, as a source's list pages are, so the
 * objects the bench generated do not stay in the agent's memory through the sync.
 */
async function timedSync(pages: (SourceEvent[] | null)[]): Promise<SyncTiming & { handledNs: number }> {
  if (!proxy || !executor) throw new Error('start first');
  const [batches, bytes] = [executor.batches, executor.bytes];
  executor.tools = new Map();
  const usage = cpu();
  const startNs = now();
  for (let page = 0; page < pages.length; page++) {
    proxy.engine.handle(pages[page]!);
    pages[page] = null;
  }
  const handledNs = now();
  if (!(await proxy.engine.sync())) throw new Error('sync failed (KPLANE_LOG=error in the agent shows why)');
  const syncedNs = now();
  return {
    startNs, handledNs, syncedNs, usage: since(usage),
    batches: executor.batches - batches, batchBytes: executor.bytes - bytes, tools: Object.fromEntries(executor.tools),
  };
}

const handlers: { [Op in AgentOp]: (request: AgentRequests[Op]['request']) => Promise<AgentRequests[Op]['response']> } = {
  async start(request) {
    ({ proxy, executor } = await createAgentProxy(request, request.dryRun ? new DryRunExecutor() : new ExecaExecutor()));
    return { memory: memory() };
  },

  async load({ workload: spec }) {
    workload = new Workload(spec);
    const result = await timedSync(workload.eventPages(PAGE_SERVICES));
    return { ...result, memory: memory() };
  },

  async change({ target }) {
    if (!workload) throw new Error('load first');
    return timedSync([[workload.changeEvent(target)]]);
  },

  /** After a full GC (outside every timed window): the agent's steady state. */
  async memory() {
    (globalThis as { gc?: () => void }).gc?.();
    return memory();
  },

  /** Full syncs into a dry-run executor, each with a fresh proxy: throughput and memory per service. */
  async plan({ start, workload: spec, repeats }) {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('the plan measurement needs node --expose-gc');
    const world = new Workload(spec);
    const runs: PlanRun[] = [];
    for (let run = 0; run < repeats; run++) {
      gc();
      const baseline = process.memoryUsage().heapUsed;
      const dryRun = new DryRunExecutor();
      const created = await createAgentProxy(start, dryRun);
      let events = world.events();
      const started = performance.now();
      created.proxy.engine.handle(events);
      const handled = performance.now();
      if (!(await created.proxy.engine.sync())) throw new Error('dry-run sync failed');
      const synced = performance.now();
      const batchBytes = created.executor.bytes;
      dryRun.batches.length = 0;
      events = [];
      gc();
      const heapBytes = process.memoryUsage().heapUsed - baseline;
      // Read after the measurement: the proxy must be alive while its heap is counted.
      if (created.proxy.engine.desiredState.size < spec.services) throw new Error('dry-run sync lost services');
      runs.push({ handleMs: handled - started, syncMs: synced - handled, heapBytes, batchBytes });
    }
    return { runs };
  },
};

createInterface({ input: process.stdin }).on('line', (line) => {
  const { seq, op, ...request } = JSON.parse(line) as { seq: number; op: AgentOp };
  const handler = handlers[op] as (request: unknown) => Promise<unknown>;
  handler(request).then(
    (response) => process.stdout.write(`${JSON.stringify({ seq, ...(response as object) })}\n`),
    (error: unknown) => process.stdout.write(`${JSON.stringify({ seq, error: error instanceof Error ? error.message : String(error) })}\n`),
  );
});
process.stdin.on('end', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ seq: 0, ready: true })}\n`);
