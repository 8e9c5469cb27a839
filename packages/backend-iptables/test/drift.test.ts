import { describe, expect, it } from 'vitest';
import { FakeExecutor, endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { ToolError, type SourceEvent } from '@kplane/core';
import { ExecIptablesClient, FakeIptablesClient, type Mode } from '../src/index.js';
import { canonicalRule } from '../src/client/rule-text.js';
import { TOP_CHAINS } from '../src/planner/audit.js';
import { harness } from './support/harness.js';

/** Services s<from>..s<to-1> with one endpoint each, on distinct cluster IPs in 10.96.0.0/16. */
function services(from: number, to: number): SourceEvent[] {
  return Array.from({ length: to - from }, (_, offset) => from + offset).flatMap((index) => [
    upsert(serviceObject(`s${index}`, { clusterIPs: [`10.96.${index >> 8}.${index & 255}`], ports: [{ name: 'http', port: 80 }] })),
    upsert(endpointSliceObject(`s${index}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: `10.244.0.${index % 250 + 1}`, nodeName: 'node-a' }] })),
  ]);
}

/** Forty services in a tree of leaves of 4, and someone else's chain and rules in the same tables. */
async function tampered(mode: Mode = 'nft') {
  const client = new FakeIptablesClient();
  client.command(mode, 4, ['-t', 'nat', '-N', 'OTHER']);
  client.command(mode, 4, ['-t', 'nat', '-A', 'OTHER', '-j', 'RETURN']);
  client.command(mode, 4, ['-t', 'nat', '-A', 'PREROUTING', '-j', 'OTHER']);
  const test = harness({ mode, 'leaf-size': '4' }, {}, client);
  await test.start(services(0, 40));
  return test;
}

/** The kernel's KPLANE- chains of one table, to compare with the model. */
function ownChains(client: FakeIptablesClient, table: 'nat' | 'filter', mode: Mode = 'nft'): Map<string, string[]> {
  return new Map([...client.chains(mode, 4, table)].filter(([chain]) => chain.startsWith('KPLANE-')));
}

describe('iptables drift audit', () => {
  for (const mode of ['nft', 'legacy'] as const) {
    it(`finds KPLANE-IPS flushed from outside (iptables-${mode}), and [] when nothing was changed`, async () => {
      const test = await tampered(mode);
      expect(await test.backend.audit()).toEqual([]);
      const written = test.backend.tables(4)!.rules('nat', 'KPLANE-IPS')!.length;
      test.client.command(mode, 4, ['-t', 'nat', '-F', 'KPLANE-IPS']);
      expect(await test.backend.audit()).toEqual([`iptables-${mode} nat KPLANE-IPS: 0 rules in the kernel, ${written} written`]);
    });
  }

  it('finds a missing chain, a deleted hook and a changed rule', async () => {
    const test = await tampered();
    const services = test.backend.tables(4)!.rules('nat', 'KPLANE-SERVICES')!;
    test.client.command('nft', 4, ['-t', 'nat', '-F', 'KPLANE-SERVICES']);
    test.client.command('nft', 4, ['-t', 'nat', '-F', 'KPLANE-IPS']);
    test.client.command('nft', 4, ['-t', 'nat', '-X', 'KPLANE-IPS']);
    test.client.command('nft', 4, ['-t', 'filter', '-D', 'FORWARD', '-m', 'comment', '--comment', 'kplane rejected and dropped service traffic', '-j', 'KPLANE-FILTER']);
    test.client.command('nft', 4, ['-t', 'filter', '-D', 'KPLANE-FILTER', '-m', 'mark', '--mark', '0x8000/0x8000', '-j', 'DROP']);
    test.client.command('nft', 4, ['-t', 'filter', '-I', 'KPLANE-FILTER', '-m', 'mark', '--mark', '0x8000/0x8000', '-j', 'ACCEPT']);
    expect(await test.backend.audit()).toEqual([
      'iptables-nft filter FORWARD: no hook to KPLANE-FILTER',
      'iptables-nft nat KPLANE-IPS: missing',
      `iptables-nft nat KPLANE-SERVICES: 0 rules in the kernel, ${services.length} written`,
      'iptables-nft filter KPLANE-FILTER: rule 1 is "-m mark --mark 0x8000/0x8000 -j ACCEPT" in the kernel, "-m mark --mark 0x8000/0x8000 -j DROP" written',
    ]);
  });

  it('iptables-nft: every audit reads the hook and top chains; after a gap of the monitor the tables whole, at most 5% of the time', async () => {
    const test = await tampered();
    const model = test.backend.tables(4)!;
    const top = ['nat', 'filter'].flatMap((table) => [...model.chainNames(table as 'nat')].filter((chain) => TOP_CHAINS.has(chain)));
    const read = async () => {
      const [listings, saves] = [test.client.listings.length, test.client.saves.length];
      expect(await test.backend.audit()).toEqual([]);
      return { chains: test.client.listings.slice(listings).filter((listing) => listing.startsWith('nft/4 ')).length, saves: test.client.saves.length - saves };
    };
    // The monitor's first audit: nat and filter saved whole, per family.
    expect((await read()).saves).toBe(4);
    // Then six hook chains (nat PREROUTING, OUTPUT, POSTROUTING; filter INPUT, FORWARD, OUTPUT) and the top chains, nothing else.
    expect(await read()).toEqual({ chains: 6 + top.length, saves: 0 });
    // A gap again: whole tables, but not again before 19 × the time the last took.
    test.client.changes.loseEvents();
    expect((await read()).saves).toBe(4);
  });

  it('a rule deleted from a leaf of the tree (iptables-nft) is drift at the next audit, seen by the monitor; missed by it, found by the whole-table audit', async () => {
    const test = await tampered();
    expect(await test.backend.audit()).toEqual([]);
    const model = test.backend.tables(4)!;
    const leaf = [...model.chainNames('nat')].filter((chain) => /^KPLANE-IPS-\d+$/.test(chain)).at(-1)!;
    const rules = model.rules('nat', leaf)!;
    test.client.command('nft', 4, ['-t', 'nat', '-D', leaf, ...rules[0]!.split(' ')]);
    expect(await test.backend.audit()).toEqual([`iptables-nft changed from outside: "change rule ip nat -t nat -D ${leaf} ${rules[0]}" by process 1 (iptables-nft)`]);

    const missed = await tampered();
    expect(await missed.backend.audit()).toEqual([]);
    missed.client.command('nft', 4, ['-t', 'nat', '-D', leaf, ...rules[0]!.split(' ')]);
    missed.client.changes.take();
    missed.client.changes.loseEvents();
    expect(await missed.backend.audit()).toEqual([`iptables-nft nat ${leaf}: ${rules.length - 1} rules in the kernel, ${rules.length} written`]);
  });

  it('never reports nor touches foreign chains and rules, even changed ones; the repair leaves them as they are', async () => {
    const test = await tampered();
    test.client.command('nft', 4, ['-t', 'nat', '-F', 'OTHER']);
    test.client.command('nft', 4, ['-t', 'nat', '-A', 'OTHER', '-j', 'ACCEPT']);
    test.client.command('nft', 4, ['-t', 'nat', '-A', 'OUTPUT', '-j', 'OTHER']);
    expect(await test.backend.audit()).toEqual([]);
    expect(test.client.listings.filter((listing) => listing.endsWith(' OTHER'))).toEqual([]);

    test.client.command('nft', 4, ['-t', 'nat', '-F', 'KPLANE-IPS']);
    test.engine.start();
    await test.clock.advance(0);
    await test.clock.advance(5000);
    expect(await test.backend.audit()).toEqual([]);
    const nat = test.client.chains('nft', 4, 'nat');
    expect(nat.get('OTHER')).toEqual(['-j ACCEPT']);
    expect(nat.get('PREROUTING')).toContain('-j OTHER');
    expect(nat.get('OUTPUT')).toContain('-j OTHER');
    await test.engine.stop();
  });

  it('behind core\'s engine: a flushed KPLANE-IPS is found by the next audit (default period) and repaired by a full sync', async () => {
    const test = await tampered();
    test.engine.start();
    await test.clock.advance(0);
    const model = test.backend.tables(4)!;
    const before = ownChains(test.client, 'nat');
    test.client.command('nft', 4, ['-t', 'nat', '-F', 'KPLANE-IPS']);
    await test.clock.advance(test.config.auditPeriodMs);
    expect(ownChains(test.client, 'nat')).toEqual(before);
    expect(ownChains(test.client, 'nat')).toEqual(model.writtenChains('nat'));
    await test.engine.stop();
  });
});

describe('canonicalRule', () => {
  it('compares the rules kplane writes equal to how iptables 1.8.9 prints them (-S, iptables-save)', () => {
    const pairs: [written: string, printed: string][] = [
      ['-j MARK --or-mark 0x4000', '-j MARK --set-xmark 0x4000/0x4000'],
      ['-j MARK --xor-mark 0x4000', '-j MARK --set-xmark 0x4000/0x0'],
      ['-m statistic --mode random --probability 0.5000000000 -j KPLANE-SEP-A', '-m statistic --mode random --probability 0.50000000000 -j KPLANE-SEP-A'],
      ['-p udp -m recent --name KPLANE-SEP-A --set -j DNAT --to-destination 10.244.0.3:5353',
        '-p udp -m recent --set --name KPLANE-SEP-A --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.244.0.3:5353'],
      ['-m recent --name KPLANE-SEP-A --rcheck --seconds 600 --reap -j KPLANE-SEP-A',
        '-m recent --rcheck --seconds 600 --reap --name KPLANE-SEP-A --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j KPLANE-SEP-A'],
      ['-m mark --mark 0x2000/0x2000 -j REJECT', '-m mark --mark 0x2000/0x2000 -j REJECT --reject-with icmp-port-unreachable'],
      ['-m mark --mark 0x2000/0x2000 -j REJECT', '-m mark --mark 0x2000/0x2000 -j REJECT --reject-with icmp6-port-unreachable'],
      ['-m comment --comment "kplane service portals" -j KPLANE-SERVICES', '-m comment --comment "kplane service portals" -j KPLANE-SERVICES'],
    ];
    for (const [written, printed] of pairs) expect(canonicalRule(printed)).toBe(canonicalRule(written));
  });

  it('tells apart rules that differ in a target, an address, a port or a mark', () => {
    const rule = '-d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KPLANE-SVC-A';
    for (const other of [
      '-d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j KPLANE-SVC-B', '-d 10.96.0.2/32 -p tcp -m tcp --dport 80 -j KPLANE-SVC-A',
      '-d 10.96.0.1/32 -p tcp -m tcp --dport 81 -j KPLANE-SVC-A', '-d 10.96.0.1/32 -p tcp -m tcp --dport 80 -j ACCEPT',
    ]) expect(canonicalRule(other)).not.toBe(canonicalRule(rule));
    expect(canonicalRule('-j MARK --or-mark 0x4000')).not.toBe(canonicalRule('-j MARK --set-xmark 0x2000/0x2000'));
    expect(canonicalRule('-p tcp -m mark --mark 0x2000/0x2000 -j REJECT --reject-with tcp-reset')).not.toBe(canonicalRule('-p tcp -m mark --mark 0x2000/0x2000 -j REJECT'));
  });
});

describe('ExecIptablesClient.listChain', () => {
  it('runs `ip(6)tables-<mode> -w 5 -t <table> -S <chain>`; a missing chain (as legacy and nft mode 1.8 say it) is null, another failure throws', async () => {
    const missing = (message: string) => () => {
      throw new ToolError('iptables', 1, message);
    };
    const executor = new FakeExecutor({
      'iptables-nft -w 5 -t nat -S KPLANE-IPS': '-N KPLANE-IPS\n-A KPLANE-IPS -j KPLANE-REJECT\n',
      'iptables-legacy -w 5 -t nat -S KPLANE-GONE': missing('iptables: No chain/target/match by that name.'),
      'ip6tables-nft -w 5 -t nat -S KPLANE-GONE': missing("# Warning: ip6tables-legacy tables present\nip6tables v1.8.9 (nf_tables): chain `KPLANE-GONE' in table `nat' is incompatible, use 'nft' tool."),
      'iptables-nft -w 5 -t filter -S KPLANE-FILTER': () => {
        throw new ToolError('iptables', 4, 'Another app is currently holding the xtables lock');
      },
    });
    const client = new ExecIptablesClient(executor);
    expect(await client.listChain('nft', 4, 'nat', 'KPLANE-IPS')).toBe('-N KPLANE-IPS\n-A KPLANE-IPS -j KPLANE-REJECT\n');
    expect(await client.listChain('legacy', 4, 'nat', 'KPLANE-GONE')).toBeNull();
    expect(await client.listChain('nft', 6, 'nat', 'KPLANE-GONE')).toBeNull();
    await expect(client.listChain('nft', 4, 'filter', 'KPLANE-FILTER')).rejects.toThrow(/xtables lock/);
  });
});
