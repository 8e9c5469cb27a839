/**
 * What the drift audit costs and how fast deep tampering is repaired at scale: N ClusterIP
 * services with one endpoint each, programmed with the real nft in a network namespace of its own
 * by the engine on the real clock with the default flags (--audit-period 5 s). Reports the cheap
 * audit (every period), the whole-table audit (once, after the monitor starts), the agent's CPU
 * and the monitor's over an idle minute, then for each deep tampering (a flushed chain, a deleted
 * map element, a deleted rule) the time from the change to the end of the full sync that repaired it.
 *
 *   npx tsx --conditions=kplane-source packages/backend-nft/test/audit-cost.measure.ts [services=20000]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { ContainerModule, DEFAULT_CONFIG, TOKENS, createLogger, createProxy } from '@kplane/core';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { NetnsExecutor } from '@kplane/conformance';
import { ExecNftClient, NFT_CLIENT, NftBackend, type NftClient } from '../src/index.js';

const services = Number(process.argv[2] ?? 20_000);
const report = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const namespace = `kpaud${randomBytes(3).toString('hex')}`;
await execa('ip', ['netns', 'add', namespace]);
try {
  const executor = new NetnsExecutor(namespace);
  const nft = (...args: string[]): Promise<string> => execa('ip', ['netns', 'exec', namespace, 'nft', ...args]).then((result) => result.stdout);
  const real = new ExecNftClient(executor);
  let wholeListings = 0;
  const client: NftClient = {
    run: (tx) => real.run(tx),
    list: (family, table) => real.list(family, table),
    listNames: (table) => real.listNames(table),
    listTable: (family, table, options) => (wholeListings++, real.listTable(family, table, options)),
    watchChanges: (table) => real.watchChanges(table),
  };
  const plugin = new ContainerModule(({ bind }) => {
    bind(NFT_CLIENT).toConstantValue(client);
    bind(TOKENS.Backend).to(NftBackend).inSingletonScope();
  });
  const config = { ...DEFAULT_CONFIG, nodeName: 'node-a', nodeIPs: ['192.168.0.10'], clusterCIDRs: ['10.244.0.0/16'] };
  const proxy = createProxy({ config, executor, logger: createLogger('silent') }, plugin);
  const audits: { ms: number; whole: boolean }[] = [];
  const audit = proxy.backend.audit!.bind(proxy.backend);
  proxy.backend.audit = async () => {
    const [before, start] = [wholeListings, performance.now()];
    const drift = await audit();
    audits.push({ ms: performance.now() - start, whole: wholeListings > before });
    return drift;
  };
  let synced = 0;
  proxy.engine.onSynced(async () => void synced++);
  await proxy.backend.init();
  proxy.engine.handle(Array.from({ length: services }, (_, i) => {
    const ip = (first: number): string => `10.${first + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    return [
      upsert(serviceObject(`s${i}`, { clusterIPs: [ip(96)], ports: [{ name: 'p', port: 80, targetPort: 8080 }] })),
      upsert(endpointSliceObject(`s${i}`, { ports: [{ name: 'p', port: 8080 }], endpoints: [{ ip: ip(200), nodeName: 'node-a' }] })),
    ];
  }).flat());
  let start = performance.now();
  proxy.engine.start();
  while (synced === 0) await sleep(50);
  report(`${services} services programmed in ${Math.round(performance.now() - start)} ms`);
  while (audits.length < 3) await sleep(100);
  const whole = audits.find((entry) => entry.whole);
  report(`the first audit (tables listed whole: the monitor has just started): ${Math.round(whole?.ms ?? NaN)} ms`);

  const monitorPid = (await execa('pgrep', ['-f', '-n', `ip netns exec ${namespace} nft monitor|^nft monitor`], { reject: false })).stdout.trim();
  const cpu = async (): Promise<number> => {
    const stat = (await execa('cat', [`/proc/${monitorPid}/stat`], { reject: false })).stdout.split(' ');
    return (Number(stat[13] ?? 0) + Number(stat[14] ?? 0)) / 100;
  };
  const idleFrom = audits.length;
  const [agentBefore, monitorBefore] = [process.cpuUsage(), await cpu()];
  await sleep(60_000);
  const agent = process.cpuUsage(agentBefore);
  const cheap = audits.slice(idleFrom).map((entry) => entry.ms).sort((a, b) => a - b);
  const rss = (await execa('ps', ['-o', 'rss=', '-p', monitorPid], { reject: false })).stdout.trim();
  report(`idle minute: ${cheap.length} audits, median ${Math.round(cheap[cheap.length >> 1]!)} ms, max ${Math.round(cheap.at(-1)!)} ms; `
    + `agent CPU ${((agent.user + agent.system) / 1e6).toFixed(2)} s, nft monitor CPU ${(await cpu() - monitorBefore).toFixed(2)} s, its RSS ${Math.round(Number(rss) / 1024)} MiB`);

  const generation = async (): Promise<string> => /chain services-g(\d+) /.exec(await nft('list', 'chains', 'ip'))![1]!;
  // The last handle of the listing: the chain's own comes first.
  const handle = async (): Promise<string> => [...(await nft('-a', 'list', 'chain', 'ip', 'kplane', 'nat-prerouting')).matchAll(/# handle (\d+)/g)].at(-1)![1]!;
  const tampering: [string, (g: string) => Promise<string[]> | string[]][] = [
    ['flush chain services', (g) => ['flush', 'chain', 'ip', 'kplane', `services-g${g}`]],
    ['delete element of the endpoint map', (g) => ['delete', 'element', 'ip', 'kplane', `endpoints-tcp-g${g}`, `{ 10.96.${(services >> 9) & 255}.${(services >> 1) & 255} . tcp . 80 . 0 }`]],
    ['delete the rule of the nat-prerouting base chain', async () => ['delete', 'rule', 'ip', 'kplane', 'nat-prerouting', 'handle', await handle()]],
  ];
  for (const [name, command] of tampering) {
    const before = synced;
    const args = await command(await generation());
    start = performance.now();
    await nft(...args);
    while (synced === before) await sleep(20);
    report(`${name}: repaired (full sync done) ${Math.round(performance.now() - start)} ms after the change`);
    await sleep(6000);
  }
  await proxy.engine.stop();
  await proxy.backend.cleanup();
} finally {
  await execa('ip', ['netns', 'delete', namespace], { reject: false });
}
