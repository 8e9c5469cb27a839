import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecaExecutor, type Batch, type Executor, type Query, type SyncRequest } from '@kplane/core';
import { remove, upsert } from '@kplane/core/testing';
import { ExecNftClient, FakeNftClient, type NftClient, type NftFamily, type NftTransaction, type TableContents } from '../src/index.js';
import { CONFIG, eps, fakeProxy, svc } from './support.js';

/** Runs every tool inside one network namespace. */
class NamespaceExecutor implements Executor {
  readonly live = true;
  private readonly host = new ExecaExecutor();

  constructor(private readonly namespace: string) {}

  apply(batch: Batch): Promise<void> {
    return this.host.apply({ ...batch, tool: 'ip', args: ['netns', 'exec', this.namespace, batch.tool, ...batch.args] });
  }

  read(query: Query): Promise<string> {
    return this.host.read({ ...query, tool: 'ip', args: ['netns', 'exec', this.namespace, query.tool, ...query.args] });
  }
}

/** What both hold of one table: chains with their rules' handles, sets and maps with their elements. */
interface Snapshot {
  readonly chains: Record<string, number[]>;
  readonly sets: Record<string, string[]>;
}

function fakeSnapshot(fake: FakeNftClient, family: NftFamily, contents: TableContents | null): Snapshot | null {
  if (!contents) return null;
  const chains = Object.fromEntries([...contents.chains].sort().map((name) => [name, fake.rules(family, 'kplane', name).map((rule) => rule.handle)]));
  const sets = Object.fromEntries([...contents.sets, ...contents.maps].sort().map((name) => [name, [...fake.elements(family, 'kplane', name)]
    .map(([key, value]) => (value === undefined ? key : `${key} : ${value}`)).sort()]));
  return { chains, sets };
}

/** `nft -a list table` read into a Snapshot. */
async function kernelSnapshot(executor: Executor, family: NftFamily): Promise<Snapshot | null> {
  const listing = await executor.read({ tool: 'nft', args: ['-a', 'list', 'table', family, 'kplane'] }).catch(() => null);
  if (listing === null) return null;
  const chains: Record<string, number[]> = {};
  const sets: Record<string, string[]> = {};
  let block: { kind: string; name: string } | null = null;
  let elements: string | null = null;
  for (const line of listing.split('\n')) {
    const header = /^\t(chain|set|map) (\S+) \{/.exec(line);
    if (header) {
      block = { kind: header[1]!, name: header[2]! };
      if (block.kind === 'chain') chains[block.name] = [];
      else sets[block.name] = [];
      continue;
    }
    if (!block) continue;
    if (block.kind === 'chain') {
      const handle = /# handle (\d+)$/.exec(line);
      if (handle && !/^\t\ttype /.test(line)) chains[block.name]!.push(Number(handle[1]));
    } else if (elements !== null || line.includes('elements = {')) {
      elements = `${elements ?? ''} ${line}`;
      if (line.trimEnd().endsWith('}')) {
        const items = elements.slice(elements.indexOf('{') + 1, elements.lastIndexOf('}'));
        sets[block.name] = items.split(',').map((item) => item.trim().replace(/\s+/g, ' ')).filter(Boolean).sort();
        elements = null;
      }
    }
    if (line === '\t}') block = null;
  }
  const sorted = <T>(record: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
  return { chains: sorted(chains), sets: sorted(sets) };
}

/**
 * The same transactions to the kernel (in a namespace) and to the fake: both must accept or both
 * refuse each one, and hold the same tables after it.
 */
describe('FakeNftClient against nft in a network namespace', () => {
  const namespace = `kpnf${randomBytes(3).toString('hex')}`;
  const kernel = new NamespaceExecutor(namespace);
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', namespace]);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'delete', namespace], { reject: false });
  });

  const outcome = (promise: Promise<unknown>): Promise<string> => promise.then(() => 'accepted', () => 'refused');

  async function expectSameTables(fake: FakeNftClient, where: string): Promise<void> {
    for (const family of ['ip', 'ip6'] as const) {
      const fromFake = fakeSnapshot(fake, family, await fake.list(family, 'kplane'));
      expect(await kernelSnapshot(kernel, family), `${where}: ${family}`).toEqual(fromFake);
    }
  }

  async function freshTables(): Promise<void> {
    for (const family of ['ip', 'ip6']) await execa('ip', ['netns', 'exec', namespace, 'nft', 'delete', 'table', family, 'kplane'], { reject: false });
  }

  /** Each case starts from no table: a list of `nft -f` texts and whether nft accepts each. */
  const cases: { name: string; steps: [text: string, accepted: boolean][] }[] = [
    {
      name: 'rules are numbered from one counter per table and deleted by handle alone',
      steps: [
        ['add table ip kplane\nadd chain ip kplane a\nadd set ip kplane s { typeof ip daddr; }\nadd rule ip kplane a ip daddr @s drop\nadd rule ip kplane a counter\nadd chain ip kplane b\nadd rule ip kplane b jump a\n', true],
        ['add chain ip kplane a\nadd set ip kplane s { typeof ip daddr; }\nadd rule ip kplane b counter\n', true],
        ['delete rule ip kplane a handle 3\n', true],
        ['add rule ip kplane a counter\ndelete rule ip kplane a handle 4\n', true],
        // What a rule deletion rendered as text without a handle looks like: nft refuses it.
        ['delete rule ip kplane b counter\n', false],
        ['flush rule ip kplane b\n', false],
        ['delete rule ip kplane b handle 99\n', false],
        ['delete rule ip kplane b handle 8\n', false],
      ],
    },
    {
      name: 'references: a jump to a missing chain, a missing set, a chain or set in use',
      steps: [
        ['add table ip kplane\nadd chain ip kplane c\nadd set ip kplane s { typeof ip daddr; }\nadd map ip kplane m { typeof ip daddr : verdict; }\nadd element ip kplane m { 10.0.0.1 : goto c }\nadd chain ip kplane r\nadd rule ip kplane r ip daddr @s drop\n', true],
        ['add rule ip kplane r jump nowhere\n', false],
        ['add rule ip kplane r ip daddr @nope drop\n', false],
        ['delete chain ip kplane c\n', false],
        ['delete set ip kplane s\n', false],
        ['flush chain ip kplane r\ndelete set ip kplane s\n', true],
        ['delete element ip kplane m { 10.0.0.1 }\ndelete chain ip kplane c\n', true],
      ],
    },
    {
      name: 'elements: another value for a key, a missing element, a set flushed as a map',
      steps: [
        ['add table ip kplane\nadd chain ip kplane c\nadd map ip kplane m { typeof ip daddr : verdict; }\nadd set ip kplane s { typeof ip daddr; }\nadd element ip kplane m { 10.0.0.1 : goto c, 10.0.0.2 : drop }\nadd element ip kplane s { 10.0.0.3 }\n', true],
        ['add element ip kplane m { 10.0.0.1 : goto c }\n', true],
        ['add element ip kplane m { 10.0.0.1 : drop }\n', false],
        ['delete element ip kplane m { 10.0.0.9 }\n', false],
        ['flush set ip kplane m\n', false],
        ['flush map ip kplane m\nflush set ip kplane s\n', true],
        ['add chain ip kplane c { type filter hook input priority 0; policy accept; }\n', false],
      ],
    },
  ];

  for (const { name, steps } of cases) {
    it(name, async () => {
      await freshTables();
      const fake = new FakeNftClient();
      for (const [index, [text, accepted]] of steps.entries()) {
        const expected = accepted ? 'accepted' : 'refused';
        const where = `step ${index + 1}`;
        expect(await outcome(kernel.apply({ tool: 'nft', args: ['-f', '-'], input: text })), `${where}: the kernel`).toBe(expected);
        expect(await outcome(Promise.resolve().then(() => fake.apply(text))), `${where}: the fake`).toBe(expected);
        await expectSameTables(fake, where);
      }
    });
  }

  /** Sends each transaction to the kernel and to the fake; fails the test when they disagree. */
  const tee = (real: NftClient) => (fake: FakeNftClient): NftClient => ({
    async run(tx: NftTransaction) {
      const [inKernel, inFake] = await Promise.all([outcome(real.run(tx)), outcome(fake.run(tx))]);
      expect(inFake, `the fake and the kernel disagree on:\n${tx.toString().slice(0, 2000)}`).toBe(inKernel);
      if (inKernel === 'refused') throw new Error('refused');
    },
    list: (family, table) => fake.list(family, table),
    listNames: (table) => fake.listNames(table),
    listTable: (family, table, options) => fake.listTable(family, table, options),
    watchChanges: () => fake.watchChanges(),
  });

  it('the backend\'s own transactions, through full and partial syncs', async () => {
    await freshTables();
    const requests: SyncRequest[] = [];
    const proxy = fakeProxy(CONFIG, tee(new ExecNftClient(kernel)));
    const backendSync = proxy.backend.sync.bind(proxy.backend);
    proxy.backend.sync = (request) => {
      requests.push(request);
      return backendSync(request);
    };
    const serviceCIDR = (cidrs: string[]) => upsert({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs } });
    const history = [
      [
        svc('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'] }), eps('web', ['10.244.1.1', '10.244.1.2']), eps('web', ['fd00:10:244:1::1'], { name: 'web-v6' }),
        svc('dns', { clusterIPs: ['10.96.0.53'] }, 'UDP'), eps('dns', ['10.244.1.3'], { protocol: 'UDP' }),
        svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], externalIPs: ['192.0.2.1'], loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24'], externalTrafficPolicy: 'Local' }),
        eps('lb', ['10.244.1.4']), eps('lb', ['10.244.2.5'], { nodeName: 'node-b', name: 'lb-remote' }),
        svc('sticky', { clusterIPs: ['10.96.0.30'], affinitySeconds: 600 }), eps('sticky', ['10.244.1.6', '10.244.1.7']),
        svc('signal', { clusterIPs: ['10.96.0.40'] }, 'SCTP'), eps('signal', ['10.244.1.8'], { protocol: 'SCTP' }),
        svc('empty', { clusterIPs: ['10.96.0.50'] }),
      ],
      [eps('web', ['10.244.1.1', '10.244.1.3', '10.244.1.9'])],
      [eps('sticky', ['10.244.1.6'])],
      [svc('web', { type: 'NodePort', clusterIPs: ['10.96.0.10', 'fd00:96::10'] }), eps('dns', [], { protocol: 'UDP' })],
      [serviceCIDR(['10.96.0.0/12'])],
      [remove('Service', 'default/lb'), svc('empty', { clusterIPs: ['10.96.0.50'], externalIPs: ['192.0.2.1'] }), eps('empty', ['10.244.1.5'])],
      [remove('Service', 'default/sticky'), remove('ServiceCIDR', 'kubernetes')],
    ];
    for (const [index, events] of history.entries()) {
      await proxy.sync(events);
      await expectSameTables(proxy.nft, `sync ${index + 1}`);
    }
    await proxy.backend.sync({ ...requests.at(-1)!, full: true });
    await expectSameTables(proxy.nft, 'a full sync over the last state');
  });

  it('a split full sync: setup, element transactions side by side, swap; then another over it', async () => {
    await freshTables();
    const requests: SyncRequest[] = [];
    const split = { ...CONFIG, backendOptions: new Map([['transaction-elements', '1000'], ['parallel-transactions', '3']]) };
    const proxy = fakeProxy(split, tee(new ExecNftClient(kernel)));
    const backendSync = proxy.backend.sync.bind(proxy.backend);
    proxy.backend.sync = (request) => {
      requests.push(request);
      return backendSync(request);
    };
    await proxy.sync(Array.from({ length: 400 }, (_, i) => [svc(`s${i}`, { clusterIPs: [`10.96.${i >> 8}.${i & 255}`] }), eps(`s${i}`, [`10.244.${i >> 8}.${i & 255}`])]).flat());
    expect(proxy.nft.transactions.length).toBeGreaterThan(3);
    await expectSameTables(proxy.nft, 'the first full sync');
    await proxy.backend.sync({ ...requests.at(-1)!, full: true });
    await expectSameTables(proxy.nft, 'the second full sync');
  });
});
