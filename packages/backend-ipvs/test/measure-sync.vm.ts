// Times the ipvs backend's syncs in a real IPVS kernel: a full sync of N ClusterIP services (two
// endpoints each) on a fresh node, one endpoint change, a drift audit that finds nothing (beside
// the full sync's listing it replaces), and a restarted agent's full sync of the same state. Each size runs in a network namespace of its own. Run inside the VM:
//   bash scripts/ipvs-vm/measure-sync.sh [N...]   (default: 1000 10000)
import { execa } from 'execa';
import { DEFAULT_CONFIG, createLogger, createProxy, type Proxy, type SourceEvent } from '@kplane/core';
import { NetnsExecutor } from '@kplane/conformance';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { ExecIpvsClient, ipvsModule } from '../src/index.js';
import { listKernel } from '../src/kernel/kernel-state.js';
import { listRules } from '../src/kernel/iptables-listing.js';
import { ToolTimes } from './support/tool-times.js';

const sizes = process.argv.slice(2).map(Number);
const rows: string[] = [];

for (const count of sizes.length > 0 ? sizes : [1000, 10_000]) {
  const namespace = `kplane-measure-${process.pid}-${count}`;
  await execa('ip', ['netns', 'add', namespace]);
  try {
    const executor = new ToolTimes(new NetnsExecutor(namespace));
    await execa('ip', ['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
    const start = (): Proxy => createProxy({ config: { ...DEFAULT_CONFIG, clusterCIDRs: ['10.244.0.0/14'] }, executor, logger: createLogger('warn') }, ipvsModule());
    const proxy = start();
    await proxy.backend.init();
    proxy.engine.handle(Array.from({ length: count }, (_, i) => objects(i, 0)).flat());
    const full = await timed(() => proxy.engine.sync());
    const fullTools = executor.take();
    const services = (await execa('ip', ['netns', 'exec', namespace, 'ipvsadm', '-S', '-n'])).stdout.split('\n').filter((line) => line.startsWith('-A')).length;
    if (services !== count) throw new Error(`${count} services wanted, ${services} in IPVS`);
    proxy.engine.handle([objects(count >> 1, 1)[1]!]);
    const change = await timed(() => proxy.engine.sync());
    const changeTools = executor.take();
    const audits: string[] = [];
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      const drift = await proxy.backend.audit!();
      if (drift.length > 0) throw new Error(`the audit found drift on a converged node: ${drift.slice(0, 3).join('; ')}`);
      audits.push(`${Math.round(performance.now() - started)} (${executor.take()})`);
    }
    const client = new ExecIpvsClient(executor);
    const listing = await timed(async () => Boolean(await Promise.all([listKernel(client), listRules(client, 4), listRules(client, 6)])));
    const listingTools = executor.take();
    const restarted = start();
    await restarted.backend.init();
    restarted.engine.handle(Array.from({ length: count }, (_, i) => objects(i, i === count >> 1 ? 1 : 0)).flat());
    const restart = await timed(() => restarted.engine.sync());
    rows.push(`| ${count} | ${full} (${fullTools}) | ${change} (${changeTools}) | ${audits.join('; ')} | ${listing} (${listingTools}) | ${restart} (${executor.take()}) |`);
    await restarted.backend.cleanup();
  } finally {
    await execa('ip', ['netns', 'delete', namespace], { reject: false });
  }
}

process.stdout.write([
  `ipvs backend sync times, kernel ${(await execa('uname', ['-r'])).stdout} (under emulation: compare only with other runs in the VM)`,
  '(in brackets: the time spent in each tool, reads included and overlapping; the rest is kplane itself)',
  '| services | full sync, fresh node (ms) | one endpoint changed (ms) | three audits, nothing drifted (ms) | a full sync\'s listing (ms) | full sync after a restart, nothing to change (ms) |',
  '|---|---|---|---|---|---|',
  ...rows,
  '',
].join('\n'));

/** Service i (10.96.x.y:80) and its slice: two endpoints, the second moved by `generation`. */
function objects(i: number, generation: number): SourceEvent[] {
  const address = (base: number, n: number) => `10.${base + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
  const name = `svc-${i}`;
  return [
    { action: 'upsert', kind: 'Service', object: serviceObject(name, { clusterIPs: [address(96, i + 1)], ports: [{ name: 'http', port: 80 }] }) },
    {
      action: 'upsert', kind: 'EndpointSlice',
      object: endpointSliceObject(name, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: address(244, 2 * i + 1) }, { ip: address(244, 2 * i + 2 + generation * 131_072) }] }),
    },
  ];
}

async function timed(sync: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  if (!(await sync())) throw new Error('sync failed (run with a log level to see why)');
  return Math.round(performance.now() - started);
}
