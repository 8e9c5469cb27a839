import { describe, expect, it } from 'vitest';
import type { ProxyConfig, SourceEvent } from '@kplane/core';
import { remove } from '@kplane/core/testing';
import type { FakeNftClient } from '../src/index.js';
import { workload } from './restart-workload.js';
import { CONFIG, eps, fakeProxy, svc } from './support.js';

/** What a fresh node writes for `events`: its kernel dump. */
async function freshDump(events: readonly SourceEvent[], config: ProxyConfig = CONFIG): Promise<string> {
  const fresh = fakeProxy(config);
  await fresh.start(events);
  return fresh.nft.dump();
}

/** A second agent on the first one's kernel (kill -9 and start again): its init and first sync of `events`; the transactions it sent. */
async function restart(nft: FakeNftClient, events: readonly SourceEvent[], config: ProxyConfig = CONFIG) {
  const before = nft.transactions.length;
  const agent = fakeProxy(config, () => nft);
  await agent.start(events);
  return { agent, sent: nft.transactions.slice(before).map((tx) => tx.toString()) };
}

const anyGeneration = (dump: string): string => dump.replace(/-g\d+\b/g, '-g#');

describe('nft backend: the first sync after a restart writes only what differs from the tables found', () => {
  it('over tables that already match: writes nothing, the kernel stays as a fresh run writes it', async () => {
    const first = fakeProxy();
    await first.start(workload());
    const { sent } = await restart(first.nft, workload());
    expect(sent).toEqual([]);
    expect(first.nft.dump()).toBe(await freshDump(workload()));
  });

  it('over tables that differ in part: one transaction of the difference, then as a fresh run; later partial syncs plan on it', async () => {
    const first = fakeProxy();
    await first.start(workload());
    const changed = [...workload(true), remove('Service', 'default/bulk-0'), svc('new', { clusterIPs: ['10.96.2.1'] }), eps('new', ['10.244.4.1'])];
    const { agent, sent } = await restart(first.nft, changed);
    expect(sent).toHaveLength(1);
    const text = sent[0]!;
    // The moved endpoints, the gone and the new service; not the 49 unchanged bulk services.
    expect(text).toContain('10.244.1.9 . 8080');
    expect(text).toContain('10.96.2.1');
    expect(text).toMatch(/delete element ip kplane cluster-ips-g1 \{ 10\.96\.1\.1 \}/);
    expect(text).not.toContain('10.96.1.2 ');
    expect(text).not.toContain('add table');
    expect(first.nft.dump()).toBe(await freshDump(changed));

    const later = [eps('bulk-5', ['10.244.9.9'])];
    await agent.sync(later);
    // A partial sync of one endpoint: its element and its hairpin pair, out and in.
    expect(first.nft.transactions.at(-1)!.toString().split('\n').filter(Boolean)).toHaveLength(4);
    expect(first.nft.dump()).toBe(await freshDump([...changed, ...later]));
  });

  it('over a chain kplane does not write in its table: falls back to the full rewrite (which leaves that chain alone)', async () => {
    const first = fakeProxy();
    await first.start(workload());
    first.nft.apply('add chain ip kplane foreign\n');
    const { sent } = await restart(first.nft, workload());
    expect(sent.join('')).toContain('add table ip kplane');
    expect(anyGeneration(first.nft.dump()).replace('  chain foreign\n', '')).toBe(anyGeneration(await freshDump(workload())));
  });

  it.each([
    ['a fixed chain with another rule', (nft: FakeNftClient) => nft.apply('flush chain ip kplane masquerading-g1\nadd rule ip kplane masquerading-g1 masquerade\n')],
    ['a generation set missing', (nft: FakeNftClient) => nft.apply('flush chain ip6 kplane cluster-ips-check-g1\ndelete set ip6 kplane cluster-ips-g1\n')],
    ['two generations (a full sync cut short)', (nft: FakeNftClient) => nft.apply('add chain ip kplane services-g2\n')],
    ['no ip6 table', (nft: FakeNftClient) => nft.apply('delete table ip6 kplane\n')],
  ])('over %s: falls back to the full rewrite, which leaves the kernel as a fresh run writes it', async (_, tamper) => {
    const first = fakeProxy();
    await first.start(workload());
    tamper(first.nft);
    const { sent } = await restart(first.nft, workload());
    expect(sent.join('')).toContain('add table ip kplane');
    expect(anyGeneration(first.nft.dump())).toBe(anyGeneration(await freshDump(workload())));
  });

  it('after a restart with other options (masquerade-all): falls back to the full rewrite', async () => {
    const first = fakeProxy();
    await first.start(workload());
    const other = { ...CONFIG, masqueradeAll: true };
    const { sent } = await restart(first.nft, workload(), other);
    expect(sent.join('')).toContain('add table ip kplane');
    expect(anyGeneration(first.nft.dump())).toBe(anyGeneration(await freshDump(workload(), other)));
  });

  it('more elements to change than one transaction takes: falls back to the (split) full rewrite', async () => {
    const first = fakeProxy();
    await first.start(workload());
    const small = { ...CONFIG, backendOptions: new Map([['transaction-elements', '1000']]) };
    const { sent } = await restart(first.nft, [...workload(), ...Array.from({ length: 300 }, (_, i) => [svc(`more-${i}`, { clusterIPs: [`10.96.${5 + (i >> 8)}.${(i & 255) + 1}`] }), eps(`more-${i}`, [`10.245.${i >> 8}.${(i & 255) + 1}`])]).flat()], small);
    expect(sent.length).toBeGreaterThan(1);
    expect(sent[0]).toContain('add table ip kplane');
  });
});
