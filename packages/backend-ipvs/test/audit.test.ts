import { describe, expect, it, vi } from 'vitest';
import { FakeIpvsClient } from '../src/index.js';
import { parseIpVsTable } from '../src/kernel/ip-vs-table.js';
import { parseSetHeaders } from '../src/kernel/ipset-headers.js';
import { SET_NAMES } from '../src/planner/sets.js';
import { NODE_INTERFACES, fakeNode, upsert, world } from './support/world.js';

/** The world synced on a fake that also holds someone else's virtual service, set and chain. */
async function node() {
  const fake = new FakeIpvsClient({ interfaces: NODE_INTERFACES });
  fake.outside('ipvsadm', '-A -t 10.99.0.1:80 -s wlc').outside('ipvsadm', '-a -t 10.99.0.1:80 -r 10.1.0.1:80 -m -w 1');
  fake.outside('ipset', 'create foreign hash:ip family inet hashsize 64').outside('ipset', 'add foreign 10.1.0.1');
  fake.iptables.get(4)!.command(['-t', 'nat', '-N', 'OTHER']);
  fake.iptables.get(4)!.command(['-t', 'nat', '-A', 'OTHER', '-j', 'RETURN']);
  fake.iptables.get(4)!.command(['-t', 'nat', '-A', 'PREROUTING', '-j', 'OTHER']);
  const test = fakeNode({}, fake);
  await test.start(world().map(upsert));
  return { ...test, audit: async () => [...(await test.backend.audit!())] };
}

/** Someone else's objects as the fake lists them (their virtual services are on 10.99.0.0/16). */
function foreign(fake: FakeIpvsClient): string[] {
  return [
    ...fake.services.save().split('\n').filter((line) => line.includes(' 10.99.')),
    fake.sets.save('foreign'),
    ...fake.iptables.get(4)!.list('nat').split('\n').filter((line) => line.includes('OTHER')),
  ];
}

describe('ipvs drift audit', () => {
  it('finds nothing on a kernel as kplane wrote it, nor before the first sync', async () => {
    const { audit } = await node();
    expect(await audit()).toEqual([]);
    const fresh = fakeNode();
    await fresh.backend.init();
    expect(await fresh.backend.audit!()).toEqual([]);
  });

  it('never makes a full sync\'s listings: no ipvsadm -S -n, no ipset save of every set; eight reads an audit', async () => {
    const { fake, audit } = await node();
    const reads = (['saveServices', 'listServices', 'saveSets', 'listSetHeaders', 'readIpvsTable', 'listAddresses', 'listRules'] as const)
      .map((method) => vi.spyOn(fake, method));
    await audit();
    expect(Object.fromEntries(reads.map((spy) => [spy.getMockName(), spy.mock.calls]))).toEqual({
      saveServices: [], listServices: [], saveSets: [['kplane-ipvs4-cluster-ip']], listSetHeaders: [[]], readIpvsTable: [[]],
      listAddresses: [['kplane-ipvs0']], listRules: [[4, 'nat'], [4, 'filter'], [6, 'nat'], [6, 'filter']],
    });
  });

  it('finds a removed or changed virtual service or real server (ipvsadm -D, -d, -e, -E)', async () => {
    const { fake, audit } = await node();
    fake.outside('ipvsadm', '-D -t 10.96.0.20:80');
    fake.outside('ipvsadm', '-d -t 10.96.0.10:80 -r 10.244.1.12:8080');
    fake.outside('ipvsadm', '-e -u 10.96.0.53:53 -r 10.244.1.11:5353 -m -w 3');
    fake.outside('ipvsadm', '-E -t [fd00:10:96::10]:80 -s wlc -p 600');
    fake.outside('ipvsadm', '-E -t 192.168.50.1:30080 -s rr -p 300');
    expect((await audit()).sort()).toEqual([
      'ipvs: virtual service -t 10.96.0.10:80 lacks real server 10.244.1.12:8080',
      'ipvs: virtual service -t 10.96.0.20:80 is missing',
      'ipvs: virtual service -t 192.168.50.1:30080 has another persistence than the 600 kplane wrote',
      'ipvs: virtual service -t [fd00:10:96::10]:80 is scheduled by wlc, kplane wrote rr',
      'ipvs: virtual service -u 10.96.0.53:53 has real server 10.244.1.11:5353 at weight 3, kplane wrote 1',
    ]);
  });

  it('finds a removed set member (ipset del) by the count, a destroyed set, and a member replaced by another within one round of the window', async () => {
    const { fake, audit } = await node();
    fake.outside('ipset', 'del kplane-ipvs4-cluster-ip 10.96.0.10,tcp:80');
    const written = fake.sets.save('kplane-ipvs4-cluster-ip').split('\n').filter((line) => line.startsWith('add ')).length + 1;
    expect(await audit()).toEqual([`ipset: set kplane-ipvs4-cluster-ip has ${written - 1} entries, kplane wrote ${written}`]);

    const replaced = await node();
    replaced.fake.outside('ipset', 'del kplane-ipvs4-hairpin 10.244.1.12,tcp:8080,10.244.1.12').outside('ipset', 'add kplane-ipvs4-hairpin 10.244.9.9,tcp:8080,10.244.9.9');
    const nonEmpty = SET_NAMES.filter(({ name }) => (parseSetHeaders(replaced.fake.sets.headers()).get(name) ?? 0) > 0).length;
    expect(nonEmpty).toBeGreaterThan(1);
    const found: string[][] = [];
    for (let audits = 0; audits < nonEmpty; audits++) found.push(await replaced.audit());
    expect(found.filter((drift) => drift.length > 0)).toEqual([[
      'ipset: set kplane-ipvs4-hairpin lacks 10.244.1.12,tcp:8080,10.244.1.12',
      'ipset: set kplane-ipvs4-hairpin holds 10.244.9.9,tcp:8080,10.244.9.9, which kplane did not write',
    ]]);
  });

  it('finds a removed service address, a deleted dummy, a flushed or deleted chain, a changed rule and a removed jump', async () => {
    const { fake, audit } = await node();
    fake.outside('ip', 'address del 10.96.0.53/32 dev kplane-ipvs0');
    const ipv4 = fake.iptables.get(4)!;
    const services = ipv4.chains('nat').get('KPLANE-IPVS-SERVICES')!.length;
    ipv4.command(['-t', 'nat', '-F', 'KPLANE-IPVS-SERVICES']);
    ipv4.command(['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'kplane-ipvs', '-j', 'KPLANE-IPVS-POSTROUTING']);
    ipv4.command(['-t', 'nat', '-F', 'KPLANE-IPVS-POSTROUTING']);
    ipv4.command(['-t', 'nat', '-X', 'KPLANE-IPVS-POSTROUTING']);
    fake.iptables.get(6)!.command(['-t', 'filter', '-D', 'KPLANE-IPVS-FIREWALL', '-j', 'DROP']);
    fake.iptables.get(6)!.command(['-t', 'filter', '-A', 'KPLANE-IPVS-FIREWALL', '-j', 'ACCEPT']);
    expect(await audit()).toEqual([
      'ip: kplane-ipvs0 lacks 10.96.0.53',
      'iptables: nat POSTROUTING has no jump to KPLANE-IPVS-POSTROUTING',
      `iptables: chain KPLANE-IPVS-SERVICES has 0 rules, kplane wrote ${services}`,
      'iptables: chain KPLANE-IPVS-POSTROUTING is missing',
      'ip6tables: chain KPLANE-IPVS-FIREWALL rule 2 is "-j ACCEPT", kplane wrote "-j DROP"',
    ]);
    fake.outside('ip', 'link del kplane-ipvs0');
    expect(await audit()).toContain('ip: kplane-ipvs0 is missing');
  });

  it('never reports someone else\'s virtual services, sets and chains, even changed ones, and the repair leaves them alone', async () => {
    const { fake, audit, engine, clock, config } = await node();
    fake.outside('ipvsadm', '-d -t 10.99.0.1:80 -r 10.1.0.1:80').outside('ipvsadm', '-A -u 10.99.0.2:53 -s rr');
    fake.outside('ipset', 'add foreign 10.1.0.2');
    fake.iptables.get(4)!.command(['-t', 'nat', '-A', 'OTHER', '-j', 'ACCEPT']);
    expect(await audit()).toEqual([]);
    const before = foreign(fake);
    fake.outside('ipvsadm', '-D -t 10.96.0.10:80');
    engine.start();
    await clock.advance(0);
    await clock.advance(config.auditPeriodMs);
    expect(await audit()).toEqual([]);
    expect(foreign(fake)).toEqual(before);
    expect(await fake.saveServices()).toContain('-A -u 10.99.0.2:53 -s rr\n');
    await engine.stop();
  });

  it('behind core\'s engine, each tampering is repaired by the full sync the next audit (default period) asks for', async () => {
    const tamperings: ((fake: FakeIpvsClient) => void)[] = [
      (fake) => fake.outside('ipset', 'del kplane-ipvs4-cluster-ip 10.96.0.10,tcp:80'),
      (fake) => fake.outside('ipvsadm', '-D -t 10.96.0.10:80'),
      (fake) => fake.outside('ipvsadm', '-d -t 10.96.0.10:80 -r 10.244.1.11:8080'),
      (fake) => fake.outside('ip', 'address del 10.96.0.10/32 dev kplane-ipvs0'),
      (fake) => fake.iptables.get(4)!.command(['-t', 'nat', '-F', 'KPLANE-IPVS-SERVICES']),
      (fake) => fake.iptables.get(4)!.command(['-t', 'filter', '-D', 'INPUT', '-m', 'comment', '--comment', 'kplane-ipvs', '-j', 'KPLANE-IPVS-FILTER']),
    ];
    for (const tamper of tamperings) {
      const { fake, engine, clock, config } = await node();
      engine.start();
      await clock.advance(0);
      const converged = fake.dump();
      tamper(fake);
      expect(fake.dump()).not.toBe(converged);
      await clock.advance(config.auditPeriodMs);
      expect(fake.dump()).toBe(converged);
      await engine.stop();
    }
  });
});

describe('ipset list -t', () => {
  it('reads each set\'s number of entries from the headers (ipset 7.17 in a network namespace)', () => {
    const text = [
      'Name: t', 'Type: hash:ip,port', 'Revision: 7', 'Header: family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x43042feb',
      'Size in memory: 264', 'References: 0', 'Number of entries: 1', '',
      'Name: u', 'Type: hash:ip', 'Revision: 6', 'Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0xa7a6f776',
      'Size in memory: 216', 'References: 0', 'Number of entries: 0', '',
    ].join('\n');
    expect(Object.fromEntries(parseSetHeaders(text))).toEqual({ t: 1, u: 0 });
  });
});

describe('/proc/net/ip_vs', () => {
  it('reads the kernel\'s hex table (IPv4, IPv6 in full, persistence in ticks, firewall marks left out) keyed as ipvsadm -S -n', () => {
    const text = [
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
      'TCP  0A60000A:0050 rr  persistent 150000 FFFFFFFF',
      '  -> 0AF4010B:1F90      Masq    1      0          0         ',
      '  -> 0AF4010C:1F90      Masq    0      2          1         ',
      'UDP  [fd00:0010:0096:0000:0000:0000:0000:0035]:0035 rr ',
      '  -> [fd00:0010:0244:0001:0000:0000:0000:0011]:14E9      Masq    1      0          0         ',
      'FWM  00000001 wlc ',
      '  -> 0A000001:0000      Route   1      0          0         ',
      'SCTP  C0A83201:0F1C rr  ',
      '',
    ].join('\n');
    expect([...parseIpVsTable(text)].map(([key, { scheduler, persistenceJiffies, reals }]) => [key, scheduler, persistenceJiffies, Object.fromEntries(reals)])).toEqual([
      ['-t 10.96.0.10:80', 'rr', 150000, { '10.244.1.11:8080': 1, '10.244.1.12:8080': 0 }],
      ['-u [fd00:10:96::35]:53', 'rr', null, { '[fd00:10:244:1::11]:5353': 1 }],
      ['--sctp-service 192.168.50.1:3868', 'rr', null, {}],
    ]);
  });

  it('the fake prints it for what it holds, as the parser reads back', async () => {
    const { fake } = await node();
    const table = parseIpVsTable(fake.services.table());
    const saved = fake.services.save();
    expect([...table.keys()].sort()).toEqual([...new Set(saved.split('\n').filter((line) => line.startsWith('-A ')).map((line) => line.split(' ').slice(1, 3).join(' ')))].sort());
    expect(table.get('-t 10.96.0.10:80')).toEqual({ scheduler: 'rr', persistenceJiffies: 600 * 250, reals: new Map([['10.244.1.11:8080', 1], ['10.244.1.12:8080', 1]]) });
    expect(table.get('-t [fd00:10:96::10]:80')?.reals).toEqual(new Map([['[fd00:10:244:1::11]:8080', 1]]));
  });
});
