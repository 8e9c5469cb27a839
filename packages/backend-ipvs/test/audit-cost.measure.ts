/**
 * What the ipvs drift audit reads and what its comparison costs the agent at scale: N ClusterIP
 * services with two endpoints each, synced on a FakeIpvsClient (which prints every listing in the
 * tools' and the kernel's formats). Prints each listing one audit reads (calls, bytes) against a
 * full sync's listing, and the agent's time for one audit: parsing and comparing, the listings
 * replayed from memory (the tools' and the kernel's own time is not in it).
 *
 *   npx tsx packages/backend-ipvs/test/audit-cost.measure.ts [services=20000]
 *
 * (tsx resolves @kplane/* to dist: `npm run build -w packages/core` first.)
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG } from '@kplane/core';
import { endpointSliceObject, serviceObject, testProxy, upsert } from '@kplane/core/testing';
import { FakeIpvsClient, ipvsModule } from '../src/index.js';
import { listKernel } from '../src/kernel/kernel-state.js';

const services = Number(process.argv[2] ?? 20_000);
const report = (line: string): void => void process.stdout.write(`${line}\n`);

/** Every listing the backend reads, with its size; once `replay` is set, each answered from the first time it was read. */
class MeasuredClient extends FakeIpvsClient {
  readonly reads: { call: string; bytes: number }[] = [];
  replay = false;
  private readonly answers = new Map<string, string | null>();
  override async readIpvsTable(): Promise<string> { return this.measure('cat /proc/net/ip_vs', () => super.readIpvsTable()); }
  override async listSetHeaders(): Promise<string> { return this.measure('ipset list -t', () => super.listSetHeaders()); }
  override async saveSets(name?: string): Promise<string> { return this.measure(`ipset save ${name ?? ''}`, () => super.saveSets(name)); }
  override async saveServices(): Promise<string> { return this.measure('ipvsadm -S -n', () => super.saveServices()); }
  override async listAddresses(device?: string): Promise<string | null> { return this.measure(`ip -o address show ${device ?? ''}`, () => super.listAddresses(device)); }
  override async listRules(family: 4 | 6, table: 'nat' | 'filter'): Promise<string> { return this.measure(`ip${family === 6 ? '6' : ''}tables -t ${table} -S`, () => super.listRules(family, table)); }
  private async measure<T extends string | null>(call: string, read: () => Promise<T>): Promise<T> {
    const text = this.replay && this.answers.has(call) ? this.answers.get(call) as T : await read();
    this.answers.set(call, text);
    this.reads.push({ call, bytes: text?.length ?? 0 });
    return text;
  }
}

const fake = new MeasuredClient({ interfaces: { eth0: ['192.168.50.1/24'] } });
const proxy = testProxy(ipvsModule({ client: fake }), { config: { ...DEFAULT_CONFIG, nodeName: 'node-a', nodeIPs: ['192.168.50.1'], clusterCIDRs: ['10.244.0.0/16'] } });
const objects = Array.from({ length: services }, (_, index) => [
  serviceObject(`s${index}`, { clusterIPs: [`10.96.${index >> 8}.${index & 255}`], ports: [{ name: 'http', port: 80 }] }),
  endpointSliceObject(`s${index}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [0, 1].map((pod) => ({ ip: `10.244.${(2 * index + pod) >> 8 & 255}.${(2 * index + pod) & 255}`, nodeName: 'node-a' })) }),
]).flat();
await proxy.start(objects.map(upsert));

const summary = (reads: readonly { call: string; bytes: number }[]): string => `${reads.length} calls, ${(reads.reduce((sum, read) => sum + read.bytes, 0) / 1e6).toFixed(2)} MB`;
fake.reads.length = 0;
await listKernel(fake);
report(`${services} services — a full sync's listing: ${summary(fake.reads)} (${fake.reads.map((read) => `${read.call} ${read.bytes} B`).join(', ')})`);
// A first round of the window reads every listing once; the timed audits replay them.
for (let audit = 0; audit < 3; audit++) await proxy.backend.audit!();
fake.replay = true;
for (let audit = 0; audit < 6; audit++) {
  fake.reads.length = 0;
  const start = performance.now();
  const drift = await proxy.backend.audit!();
  const took = performance.now() - start;
  report(`audit ${audit + 1}: ${drift.length} differences, ${took.toFixed(0)} ms, ${summary(fake.reads)} (${fake.reads.map((read) => `${read.call} ${read.bytes} B`).join(', ')})`);
}
