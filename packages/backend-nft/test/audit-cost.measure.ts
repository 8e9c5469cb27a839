/**
 * What the drift audit costs at scale: N ClusterIP services with one endpoint each, programmed with
 * the real nft in a network namespace of its own. Times the cheap audit (names and hooks, every
 * period) and one turn of deep audits (rules, then each set and map: until the rotation comes back),
 * with the elements each listed, and a whole listing for comparison. The backend runs on a FakeClock
 * so that every audit is a deep one (the real clock spaces them out to 5% of the time).
 *
 *   npx tsx packages/backend-nft/test/audit-cost.measure.ts [services=20000]
 *
 * (tsx resolves @kplane/* to dist: `npm run build -w packages/core -w packages/conformance` first.)
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { ContainerModule, DEFAULT_CONFIG, TOKENS, createLogger, createProxy } from '@kplane/core';
import { FakeClock, endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { NetnsExecutor } from '@kplane/conformance';
import { ExecNftClient, NFT_CLIENT, NftBackend, type NftClient } from '../src/index.js';

const services = Number(process.argv[2] ?? 20_000);
const report = (line: string): void => void process.stdout.write(`${line}\n`);
const since = (start: number): number => Math.round(performance.now() - start);

const namespace = `kpaud${randomBytes(3).toString('hex')}`;
await execa('ip', ['netns', 'add', namespace]);
try {
  const executor = new NetnsExecutor(namespace);
  const real = new ExecNftClient(executor);
  const listed: string[] = [];
  const client: NftClient = {
    run: (tx) => real.run(tx),
    list: (family, table) => real.list(family, table),
    listNames: (table) => real.listNames(table),
    async listTable(family, table, options) {
      listed.push(`${family} rules${options.terse ? '' : ' and elements'}`);
      return real.listTable(family, table, options);
    },
    async listSet(family, table, set) {
      const listing = await real.listSet(family, table, set);
      listed.push(`${family} ${set.name} (${listing?.sets.get(set.name)?.elements?.size ?? 0})`);
      return listing;
    },
  };
  const plugin = new ContainerModule(({ bind }) => {
    bind(NFT_CLIENT).toConstantValue(client);
    bind(TOKENS.Backend).to(NftBackend).inSingletonScope();
  });
  const config = { ...DEFAULT_CONFIG, nodeName: 'node-a', nodeIPs: ['192.168.0.10'], clusterCIDRs: ['10.244.0.0/16'] };
  const proxy = createProxy({ config, executor, logger: createLogger('silent'), clock: new FakeClock() }, plugin);
  await proxy.backend.init();
  proxy.engine.handle(Array.from({ length: services }, (_, i) => {
    const ip = (first: number): string => `10.${first + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    return [
      upsert(serviceObject(`s${i}`, { clusterIPs: [ip(96)], ports: [{ name: 'p', port: 80, targetPort: 8080 }] })),
      upsert(endpointSliceObject(`s${i}`, { ports: [{ name: 'p', port: 8080 }], endpoints: [{ ip: ip(200), nodeName: 'node-a' }] })),
    ];
  }).flat());
  let start = performance.now();
  if (!(await proxy.engine.sync())) throw new Error('the first sync failed');
  report(`${services} services programmed in ${since(start)} ms`);

  start = performance.now();
  const whole = await executor.read({ tool: 'nft', args: ['list', 'table', 'ip', 'kplane'] });
  report(`a whole listing (nft list table ip kplane): ${since(start)} ms, ${whole.length} bytes`);
  start = performance.now();
  await real.listNames('kplane');
  report(`the cheap audit's listings (nft list chains, -t list sets, -t list maps): ${since(start)} ms`);

  const times: number[] = [];
  const seen = new Set<string>();
  for (let audit = 1; audit <= 100; audit++) {
    const before = listed.length;
    start = performance.now();
    const drift = await proxy.backend.audit!();
    times.push(performance.now() - start);
    if (drift.length > 0) throw new Error(`drift in a table nobody touched: ${drift.slice(0, 5).join('; ')}`);
    const slice = listed.slice(before);
    report(`deep audit ${audit}: ${Math.round(times.at(-1)!)} ms, listed ${slice.join(', ')}`);
    // The ip6 table holds nothing here: listed whole each time. The turn is over the ip table's sets (its rules come every other time).
    const turn = slice.filter((item) => item.startsWith('ip ') && item !== 'ip rules');
    if (turn.some((item) => seen.has(item))) break;
    for (const item of turn) seen.add(item);
  }
  const turn = times.slice(0, -1);
  // On the real clock a deep audit that took T holds the next one back for 19 T, and audits come every period.
  const periods = turn.reduce((sum, ms) => sum + Math.max(1, Math.ceil((20 * ms) / DEFAULT_CONFIG.auditPeriodMs)), 0);
  const sorted = [...turn].sort((a, b) => a - b);
  report(`one turn: ${turn.length} deep audits; each median ${Math.round(sorted[sorted.length >> 1]!)} ms, max ${Math.round(sorted.at(-1)!)} ms`);
  report(`a turn on the real clock: about ${periods} audit periods of ${DEFAULT_CONFIG.auditPeriodMs} ms (the worst case for a deleted element)`);
} finally {
  await execa('ip', ['netns', 'delete', namespace], { reject: false });
}
