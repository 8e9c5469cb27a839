import { describe, expect, it } from 'vitest';
import { remove, upsert } from '@kplane/core/testing';
import { CONFIG, eps, fakeProxy, svc } from './support.js';

/** The text of the last transaction the backend sent. */
const lastTransaction = (nft: ReturnType<typeof fakeProxy>['nft']): string => nft.transactions.at(-1)?.toString() ?? '';

describe('nft planner: golden text', () => {
  it('writes a small scenario with every frontend kind in one transaction', async () => {
    const { nft, sync } = fakeProxy();
    await sync([
      svc('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'] }),
      eps('web', ['10.244.1.1', '10.244.1.2']),
      eps('web', ['fd00:10:244:1::1'], { name: 'web-v6' }),
      svc('dns', { clusterIPs: ['10.96.0.53'] }, 'UDP'),
      eps('dns', ['10.244.1.3'], { protocol: 'UDP' }),
      svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], externalIPs: ['192.0.2.1'], loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24'], externalTrafficPolicy: 'Local' }),
      eps('lb', ['10.244.1.4']),
      eps('lb', ['10.244.2.5'], { nodeName: 'node-b', name: 'lb-remote' }),
      svc('sticky', { clusterIPs: ['10.96.0.30'], affinitySeconds: 600 }),
      eps('sticky', ['10.244.1.6', '10.244.1.7']),
      svc('signal', { clusterIPs: ['10.96.0.40'] }, 'SCTP'),
      eps('signal', ['10.244.1.8'], { protocol: 'SCTP' }),
      svc('empty', { clusterIPs: ['10.96.0.50'] }),
    ]);
    expect(nft.transactions).toHaveLength(1);
    await expect(lastTransaction(nft)).toMatchFileSnapshot('golden/full-sync.nft');
    await expect(nft.dump()).toMatchFileSnapshot('golden/full-sync.dump');
  });
});

describe('nft planner: partial syncs touch only what changed', () => {
  async function started() {
    const proxy = fakeProxy();
    await proxy.sync([svc('web', { clusterIPs: ['10.96.0.10'] }), eps('web', ['10.244.1.1', '10.244.1.2']), svc('other', { clusterIPs: ['10.96.0.11'] }), eps('other', ['10.244.1.9'])]);
    return proxy;
  }

  it('an endpoint replaced: one element', async () => {
    const { nft, sync } = await started();
    await sync([eps('web', ['10.244.1.1', '10.244.1.3'])]);
    expect(lastTransaction(nft)).toBe([
      'delete element ip kplane endpoints-tcp-g1 { 10.96.0.10 . tcp . 80 . 1 }',
      'delete element ip kplane hairpin-g1 { 10.244.1.2 . 10.244.1.2 }',
      'add element ip kplane endpoints-tcp-g1 { 10.96.0.10 . tcp . 80 . 1 : 10.244.1.3 . 8080 }',
      'add element ip kplane hairpin-g1 { 10.244.1.3 . 10.244.1.3 }',
      '',
    ].join('\n'));
  });

  it('scaled up to a new count: the pick chain first, then the elements', async () => {
    const { nft, sync } = await started();
    await sync([eps('web', ['10.244.1.1', '10.244.1.2', '10.244.1.3'])]);
    expect(lastTransaction(nft)).toBe([
      'add chain ip kplane pick-tcp-3-g1',
      'add rule ip kplane pick-tcp-3-g1 dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 3 map @endpoints-tcp-g1',
      'delete element ip kplane pick-g1 { 10.96.0.10 . tcp . 80 }',
      'add element ip kplane endpoints-tcp-g1 { 10.96.0.10 . tcp . 80 . 2 : 10.244.1.3 . 8080 }',
      'add element ip kplane pick-g1 { 10.96.0.10 . tcp . 80 : goto pick-tcp-3-g1 }',
      'add element ip kplane hairpin-g1 { 10.244.1.3 . 10.244.1.3 }',
      'flush chain ip kplane pick-tcp-2-g1',
      'delete chain ip kplane pick-tcp-2-g1',
      '',
    ].join('\n'));
  });

  it('scaled to zero: a reject verdict replaces the dispatch, and the unused pick chain goes last', async () => {
    const { nft, sync } = await started();
    await sync([eps('other', [])]);
    expect(lastTransaction(nft)).toBe([
      'delete element ip kplane service-ips-g1 { 10.96.0.11 . tcp . 80 }',
      'delete element ip kplane endpoints-tcp-g1 { 10.96.0.11 . tcp . 80 . 0 }',
      'delete element ip kplane pick-g1 { 10.96.0.11 . tcp . 80 }',
      'delete element ip kplane hairpin-g1 { 10.244.1.9 . 10.244.1.9 }',
      'add element ip kplane no-endpoint-services-g1 { 10.96.0.11 . tcp . 80 : goto reject-g1 }',
      'flush chain ip kplane pick-tcp-1-g1',
      'delete chain ip kplane pick-tcp-1-g1',
      '',
    ].join('\n'));
  });

  it('a Service deleted: all its elements, nothing else', async () => {
    const { nft, sync } = await started();
    await sync([remove('Service', 'default/web')]);
    expect(lastTransaction(nft)).toBe([
      'delete element ip kplane cluster-ips-g1 { 10.96.0.10 }',
      'delete element ip kplane service-ips-g1 { 10.96.0.10 . tcp . 80 }',
      'delete element ip kplane endpoints-tcp-g1 { 10.96.0.10 . tcp . 80 . 0, 10.96.0.10 . tcp . 80 . 1 }',
      'delete element ip kplane pick-g1 { 10.96.0.10 . tcp . 80 }',
      'delete element ip kplane hairpin-g1 { 10.244.1.1 . 10.244.1.1, 10.244.1.2 . 10.244.1.2 }',
      'flush chain ip kplane pick-tcp-2-g1',
      'delete chain ip kplane pick-tcp-2-g1',
      '',
    ].join('\n'));
  });

  it('a Service becomes a NodePort: only the node port elements are added', async () => {
    const { nft, sync } = await started();
    await sync([svc('web', { type: 'NodePort', clusterIPs: ['10.96.0.10'] })]);
    expect(lastTransaction(nft)).toBe([
      'add chain ip kplane nodeport-pick-tcp-2-g1',
      'add rule ip kplane nodeport-pick-tcp-2-g1 dnat ip to meta l4proto . th dport . numgen random mod 2 map @nodeport-endpoints-tcp-g1',
      'add element ip kplane service-nodeports-g1 { tcp . 30318 : goto nodeport-g1 }',
      'add element ip kplane nodeport-endpoints-tcp-g1 { tcp . 30318 . 0 : 10.244.1.1 . 8080, tcp . 30318 . 1 : 10.244.1.2 . 8080 }',
      'add element ip kplane nodeport-pick-g1 { tcp . 30318 : goto nodeport-pick-tcp-2-g1 }',
      '',
    ].join('\n'));
  });

  it('an affinity Service loses an endpoint: its chain is rewritten before the old endpoint\'s objects go', async () => {
    const { nft, sync } = await started();
    await sync([svc('sticky', { clusterIPs: ['10.96.0.30'], affinitySeconds: 60 }), eps('sticky', ['10.244.1.6', '10.244.1.7'])]);
    await sync([eps('sticky', ['10.244.1.6'])]);
    const text = lastTransaction(nft);
    const lines = text.trim().split('\n');
    const rewrite = lines.findIndex((line) => /^flush chain ip kplane aff-\w+-i$/.test(line));
    const removal = lines.findIndex((line) => /^delete chain ip kplane affep-/.test(line));
    expect(rewrite).toBeGreaterThanOrEqual(0);
    expect(removal).toBeGreaterThan(rewrite);
    expect(lines.filter((line) => line.startsWith('delete set'))).toHaveLength(1);
    expect(text).not.toContain('10.96.0.10');
  });

  it('sends nothing when nothing changed', async () => {
    const { nft, sync } = await started();
    const before = nft.transactions.length;
    await sync([eps('web', ['10.244.1.2', '10.244.1.1'])]);
    expect(nft.transactions).toHaveLength(before);
  });

  it('keeps an element two Services claim until the last one goes', async () => {
    const { nft, sync } = await started();
    await sync([svc('web-alias', { clusterIPs: ['10.96.0.12'], externalIPs: ['192.0.2.7'] }), eps('web-alias', ['10.244.1.1']), svc('web', { clusterIPs: ['10.96.0.10'], externalIPs: ['192.0.2.7'] })]);
    expect(nft.elements('ip', 'kplane', 'service-ips-g1').get('192.0.2.7 . tcp . 80')).toBe('goto external-g1');
    await sync([remove('Service', 'default/web')]);
    expect(nft.elements('ip', 'kplane', 'service-ips-g1').has('192.0.2.7 . tcp . 80')).toBe(true);
    expect(nft.elements('ip', 'kplane', 'hairpin-g1').has('10.244.1.1 . 10.244.1.1')).toBe(true);
    await sync([remove('Service', 'default/web-alias')]);
    expect(nft.elements('ip', 'kplane', 'service-ips-g1').has('192.0.2.7 . tcp . 80')).toBe(false);
  });
});

describe('nft planner: full syncs', () => {
  it('build the next generation beside the current one and swap at the end', async () => {
    const { nft, sync, backend } = fakeProxy();
    await sync([svc('web', { clusterIPs: ['10.96.0.10'] }), eps('web', ['10.244.1.1'])]);
    await backend.sync({ full: true, changed: new Set(), state: { get: () => undefined, values: () => [][Symbol.iterator](), size: 0, serviceCIDRs: [] } });
    const text = lastTransaction(nft);
    expect(text).toContain('add map ip kplane service-ips-g2');
    expect(text.indexOf('flush chain ip kplane nat-prerouting')).toBeGreaterThan(text.indexOf('add map ip kplane service-ips-g2'));
    expect(text).toContain('delete map ip kplane service-ips-g1');
    expect(nft.dump()).not.toMatch(/-g1\b/);
  });

  it('splits a big full sync: the setup, element transactions side by side, then the swap', async () => {
    const options = new Map([['transaction-elements', '1000'], ['parallel-transactions', '3']]);
    const { nft, sync } = fakeProxy({ ...(await import('./support.js')).CONFIG, backendOptions: options });
    const events = Array.from({ length: 400 }, (_, i) => [svc(`s${i}`, { clusterIPs: [`10.96.${i >> 8}.${i & 255}`] }), eps(`s${i}`, [`10.244.${i >> 8}.${i & 255}`])]).flat();
    await sync(events);
    const texts = nft.transactions.map((tx) => tx.toString());
    expect(texts[0]).toContain('add map ip kplane endpoints-tcp-g1');
    expect(texts[0]).not.toContain('add element');
    expect(texts.at(-1)).toContain('add rule ip kplane nat-prerouting jump services-g1');
    expect(texts.at(-1)).not.toContain('add element');
    const elementCount = (tx: (typeof nft.transactions)[number]): number => tx.operations.reduce((sum, { object }) => sum + (object.kind === 'elements' ? object.elements.length : 0), 0);
    // 2,000 elements: at least 3 pieces (one per parallel transaction), of at most 1,000 each.
    expect(nft.transactions.map(elementCount)).toEqual([0, 667, 667, 666, 0]);
    expect(nft.elements('ip', 'kplane', 'service-ips-g1').size).toBe(400);
  });
});

describe('nft planner: service CIDRs (kube-proxy\'s cluster-ips-check)', () => {
  const serviceCIDR = (cidrs: string[]) => upsert({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs } });
  const checkRules = (text: string): string[] => text.split('\n').filter((line) => line.includes('cluster-ips-check-g1') && !line.includes('jump'));

  it('a full sync drops the rest of each family\'s service CIDRs after rejecting the other ports of cluster IPs', async () => {
    const { nft, sync } = fakeProxy({ ...CONFIG, serviceCIDRs: ['fd00:10:96::/108'] });
    await sync([serviceCIDR(['10.96.0.0/12']), svc('web', { clusterIPs: ['10.96.0.10'] }), eps('web', ['10.244.1.1'])]);
    expect(checkRules(lastTransaction(nft))).toEqual([
      'add chain ip kplane cluster-ips-check-g1',
      'add rule ip kplane cluster-ips-check-g1 ip daddr @cluster-ips-g1 goto reject-g1',
      'add rule ip kplane cluster-ips-check-g1 ip daddr { 10.96.0.0/12 } drop',
      'add chain ip6 kplane cluster-ips-check-g1',
      'add rule ip6 kplane cluster-ips-check-g1 ip6 daddr @cluster-ips-g1 goto reject-g1',
      'add rule ip6 kplane cluster-ips-check-g1 ip6 daddr { fd00:10:96::/108 } drop',
    ]);
  });

  it('a changed service CIDR rewrites the check chain of its family alone, in a partial sync', async () => {
    const { nft, sync } = fakeProxy();
    await sync([svc('web', { clusterIPs: ['10.96.0.10'] }), eps('web', ['10.244.1.1'])]);
    await sync([serviceCIDR(['10.96.0.0/12'])]);
    expect(lastTransaction(nft)).toBe([
      'flush chain ip kplane cluster-ips-check-g1',
      'add rule ip kplane cluster-ips-check-g1 ip daddr @cluster-ips-g1 goto reject-g1',
      'add rule ip kplane cluster-ips-check-g1 ip daddr { 10.96.0.0/12 } drop',
      '',
    ].join('\n'));
    await sync([remove('ServiceCIDR', 'kubernetes')]);
    expect(lastTransaction(nft)).toBe([
      'flush chain ip kplane cluster-ips-check-g1',
      'add rule ip kplane cluster-ips-check-g1 ip daddr @cluster-ips-g1 goto reject-g1',
      '',
    ].join('\n'));
  });

  it('a Service added inside the service CIDR costs its own elements: one cluster-ips element, the check chain untouched', async () => {
    const { nft, sync } = fakeProxy({ ...CONFIG, serviceCIDRs: ['10.96.0.0/12'] });
    await sync([svc('web', { clusterIPs: ['10.96.0.10'] }), eps('web', ['10.244.1.1'])]);
    await sync([svc('new', { clusterIPs: ['10.96.0.11'] })]);
    expect(lastTransaction(nft)).toBe([
      'add element ip kplane cluster-ips-g1 { 10.96.0.11 }',
      'add element ip kplane no-endpoint-services-g1 { 10.96.0.11 . tcp . 80 : goto reject-g1 }',
      '',
    ].join('\n'));
  });
});
