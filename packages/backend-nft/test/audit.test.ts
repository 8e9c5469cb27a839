import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import type { NftBackend } from '../src/index.js';
import { CONFIG, eps, fakeProxy, svc } from './support.js';

const anyGeneration = (dump: string): string => dump.replace(/-g\d+\b/g, '-g#');

/** Services of every kind the audit compares: dual-stack, affinity, LoadBalancer with source ranges (a /32 among them). */
const MIXED: SourceEvent[] = [
  svc('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'] }), eps('web', ['10.244.1.1', '10.244.1.2']), eps('web', ['fd00:10:244:1::1'], { name: 'web-v6' }),
  svc('sticky', { clusterIPs: ['10.96.0.30'], affinitySeconds: 600 }), eps('sticky', ['10.244.1.6', '10.244.1.7']),
  svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24', '192.0.2.7/32'], externalTrafficPolicy: 'Local' }),
  eps('lb', ['10.244.1.4']),
  svc('empty', { clusterIPs: ['10.96.0.50'] }),
];

/** `count` ClusterIP services with one endpoint each. */
function many(count: number): SourceEvent[] {
  return Array.from({ length: count }, (_, i) => [svc(`s${i}`, { clusterIPs: [`10.96.${i >> 8}.${i & 255}`] }), eps(`s${i}`, [`10.244.${i >> 8}.${i & 255}`])]).flat();
}

async function synced(events: SourceEvent[]) {
  const proxy = fakeProxy(CONFIG);
  await proxy.start(events);
  return { ...proxy, nft: proxy.nft, backend: proxy.backend as NftBackend, generation: /-g(\d+)\b/.exec(proxy.nft.dump())![1]! };
}

describe('nft audit against the fake', () => {
  it('finds nothing when the kernel holds what was written, after full and partial syncs', async () => {
    const proxy = await synced(MIXED);
    expect(await proxy.backend.audit()).toEqual([]);
    await proxy.sync([eps('web', ['10.244.1.1', '10.244.1.3', '10.244.1.9']), eps('sticky', ['10.244.1.6'])]);
    expect(await proxy.backend.audit()).toEqual([]);
  });

  const tampering: [string, (g: string) => string, RegExp][] = [
    ['nft delete table ip kplane', () => 'delete table ip kplane', /^ip: table kplane is missing$/],
    ['nft delete table ip6 kplane', () => 'delete table ip6 kplane', /^ip6: table kplane is missing$/],
    ['nft flush chain of a generation chain', (g) => `flush chain ip kplane services-g${g}`, /chain services-g\d+ has 0 rules, kplane wrote 2/],
    ['nft flush chain of a base chain', () => 'flush chain ip kplane nat-prerouting', /chain nat-prerouting has 0 rules, kplane wrote 1/],
    ['an affinity chain flushed', () => 'flush chain ip kplane aff-HNNG67TMCAXQXUD2-i', /chain aff-HNNG67TMCAXQXUD2-i has 0 rules/],
    ['a rule replaced', (g) => `flush chain ip kplane cluster-ips-check-g${g}\nadd rule ip kplane cluster-ips-check-g${g} accept`, /rule 1 is "accept"/],
    ['a map element deleted', (g) => `delete element ip kplane endpoints-tcp-g${g} { 10.96.0.10 . tcp . 80 . 1 }`, /endpoints-tcp-g\d+ lacks 10\.96\.0\.10 \. tcp \. 80 \. 1$/],
    ['a set element deleted', (g) => `delete element ip kplane cluster-ips-g${g} { 10.96.0.50 }`, /cluster-ips-g\d+ lacks 10\.96\.0\.50$/],
    ['a verdict element added', (g) => `add element ip kplane service-ips-g${g} { 10.96.9.9 . tcp . 80 : drop }`, /service-ips-g\d+ holds 10\.96\.9\.9 \. tcp \. 80, which kplane did not write/],
    ['a chain added to kplane\'s table', () => 'add chain ip kplane intruder', /chain intruder was not written by kplane/],
    ['a set deleted', () => 'delete set ip kplane aff-HNNG67TMCAXQXUD2-i-XH5P74AZUM2OPXKI-t600',
      /set aff-HNNG67TMCAXQXUD2-i-XH5P74AZUM2OPXKI-t600 is missing/],
  ];
  for (const [name, command, found] of tampering) {
    it(`finds ${name}`, async () => {
      const proxy = await synced(MIXED);
      // The affinity set is in use: deleting it from outside means flushing its chain first.
      if (name === 'a set deleted') proxy.nft.apply('flush chain ip kplane aff-HNNG67TMCAXQXUD2-i\nflush chain ip kplane affep-HNNG67TMCAXQXUD2-i-XH5P74AZUM2OPXKI');
      proxy.nft.apply(command(proxy.generation));
      // As if the monitor had missed it: the whole-table audit must find it by itself.
      proxy.nft.changes.take();
      proxy.nft.changes.loseEvents();
      const drift = await proxy.backend.audit();
      expect(drift.some((line) => found.test(line)), drift.join('\n')).toBe(true);
    });
  }

  it('the engine repairs every kind of tampering with a full sync within one audit period, and leaves a foreign table alone', async () => {
    const proxy = fakeProxy(CONFIG);
    await proxy.backend.init();
    proxy.nft.apply('add table ip foreign\nadd chain ip foreign input { type filter hook input priority 0; policy accept; }\nadd set ip foreign blocked { typeof ip saddr; }\nadd element ip foreign blocked { 192.0.2.99 }\nadd rule ip foreign input ip saddr @blocked drop\n');
    proxy.engine.handle(MIXED);
    proxy.engine.start();
    await proxy.clock.advance(0);
    const written = anyGeneration(proxy.nft.dump());
    const commands = ['delete table ip kplane', 'flush chain ip kplane nat-output', 'delete element ip kplane endpoints-tcp-g# { 10.96.0.10 . tcp . 80 . 0 }'];
    for (const [index, command] of commands.entries()) {
      const generation = /-g(\d+)\b/.exec(proxy.nft.dump())![1]!;
      proxy.nft.apply(command.replace('-g#', `-g${generation}`));
      expect(anyGeneration(proxy.nft.dump())).not.toEqual(written);
      await proxy.clock.advance(CONFIG.auditPeriodMs + CONFIG.minSyncPeriodMs);
      expect(anyGeneration(proxy.nft.dump()), command).toEqual(written);
      expect(await proxy.metrics.registry.getSingleMetricAsString('kplane_drift_detected_total')).toContain(`kplane_drift_detected_total{backend="nft"} ${index + 1}`);
    }
    expect(proxy.nft.dump()).toContain('table ip foreign\n  set blocked { typeof ip saddr; }\n    192.0.2.99\n  chain input');
    await proxy.engine.stop();
  });

  it('after drift, the model learnt from the kernel makes even a partial request a full sync', async () => {
    const proxy = await synced(MIXED);
    proxy.nft.apply(`flush chain ip kplane services-g${proxy.generation}`);
    expect(await proxy.backend.audit()).not.toEqual([]);
    const written = anyGeneration(proxy.nft.dump());
    await proxy.backend.sync({ full: false, changed: new Set(), state: proxy.engine.desiredState });
    expect(anyGeneration(proxy.nft.dump())).not.toEqual(written);
    expect(await proxy.backend.audit()).toEqual([]);
  });

  it('a big table: a change from outside is drift at the next audit, from the monitor, without listing rules or elements', async () => {
    const proxy = await synced(many(1500));
    const listTable = proxy.nft.listTable.bind(proxy.nft);
    let listed = 0;
    proxy.nft.listTable = async (...args) => {
      listed++;
      return listTable(...args);
    };
    // The first audit covers the time before the monitor watched: the tables whole, once.
    expect(await proxy.backend.audit()).toEqual([]);
    expect(listed).toBe(2);
    for (let audit = 0; audit < 5; audit++) expect(await proxy.backend.audit()).toEqual([]);
    proxy.nft.apply(`delete element ip kplane endpoints-tcp-g${proxy.generation} { 10.96.5.219 . tcp . 80 . 0 }`);
    expect(await proxy.backend.audit()).toEqual([`changed from outside: "delete element ip kplane endpoints-tcp-g${proxy.generation} { 10.96.5.219 . tcp . 80 . 0 }" by process 1 (nft)`]);
    expect(listed).toBe(2);
  });

  it('whole-table audits (after a gap of the monitor) take at most 5% of the time; the cheap one runs every time', async () => {
    const proxy = await synced(MIXED);
    const listTable = proxy.nft.listTable.bind(proxy.nft);
    let deep = 0;
    // An nft that takes 1 s to list rules and elements, as at 20,000 services.
    proxy.nft.listTable = async (...args) => {
      deep++;
      await proxy.clock.advance(1000);
      return listTable(...args);
    };
    for (let second = 0; second < 60; second += 5) {
      // A monitor that keeps losing events.
      proxy.nft.changes.loseEvents();
      expect(await proxy.backend.audit()).toEqual([]);
      await proxy.clock.advance(5000);
    }
    // Two families a deep audit, each 1 s: one every 2 s × 19 = 38 s.
    expect(deep).toBe(4);
    proxy.nft.apply('delete table ip6 kplane');
    expect(await proxy.backend.audit()).toEqual(['ip6: table kplane is missing']);
  });
});
