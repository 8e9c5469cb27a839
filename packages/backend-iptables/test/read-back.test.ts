import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import { endpointSliceObject, remove, serviceObject, upsert } from '@kplane/core/testing';
import type { FakeIptablesClient } from '../src/index.js';
import type { Mode } from '../src/client/client.js';
import { harness } from './support/harness.js';

/** Services of several kinds in both families, `moved`: some endpoints elsewhere, one Service gone, one new. */
function workload(moved = false): SourceEvent[] {
  const events: SourceEvent[] = [
    upsert(serviceObject('lb', {
      type: 'LoadBalancer', clusterIPs: ['10.96.1.1', 'fd00:96::1'], loadBalancerIPs: ['198.51.100.10'], loadBalancerSourceRanges: ['192.168.50.0/24'],
      externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ name: 'http', port: 80, nodePort: 30080 }],
    })),
    upsert(endpointSliceObject('lb', { name: 'lb-4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.0.1', nodeName: 'node-a' }, { ip: '10.244.9.1', nodeName: 'node-b' }] })),
    upsert(endpointSliceObject('lb', { name: 'lb-6', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: 'fd00:10:244::1', nodeName: 'node-b' }] })),
    upsert(serviceObject('sticky', { clusterIPs: ['10.96.1.2'], affinitySeconds: 600, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] })),
    upsert(endpointSliceObject('sticky', { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ ip: '10.244.0.3' }, { ip: moved ? '10.244.0.9' : '10.244.0.4' }] })),
  ];
  for (let i = 0; i < 100; i++) {
    if (moved && i === 0) continue;
    events.push(
      upsert(serviceObject(`bulk-${i}`, { clusterIPs: [`10.96.2.${i + 1}`], ports: [{ name: 'http', port: 80 }] })),
      upsert(endpointSliceObject(`bulk-${i}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: `10.244.3.${moved && i === 7 ? 200 : i + 1}` }] })),
    );
  }
  if (moved) events.push(remove('Service', 'default/bulk-0'), upsert(serviceObject('new', { clusterIPs: ['10.96.3.1'], ports: [{ name: 'http', port: 80 }] })));
  return events;
}

const cases: [Mode, 'tree' | 'flat'][] = [['nft', 'tree'], ['nft', 'flat'], ['legacy', 'tree'], ['legacy', 'flat']];

/** Both families' tables in iptables-save form. */
const dump = (client: FakeIptablesClient, mode: Mode): string => `${client.dump(mode, 4)}${client.dump(mode, 6)}`;

describe.each(cases)('iptables backend (%s mode, %s layout): the first sync after a restart writes only what differs', (mode, layout) => {
  const options: Record<string, string> = { mode, layout, 'leaf-size': '8' };
  const fresh = async (events: readonly SourceEvent[], other = options): Promise<string> => {
    const node = harness(other);
    await node.start(events);
    return dump(node.client, mode);
  };
  /** A second agent on the first one's kernel (kill -9 and start again): its first sync's restores. */
  const restart = (client: FakeIptablesClient, events: readonly SourceEvent[], other = options) => {
    const agent = harness(other, {}, client);
    return { agent, restored: agent.start(events) };
  };

  it('over chains that already match: no restore; the kernel is as a fresh run writes it', async () => {
    const first = harness(options);
    await first.start(workload());
    expect(await restart(first.client, workload()).restored).toEqual([]);
    expect(dump(first.client, mode)).toBe(await fresh(workload()));
  });

  it('over chains that differ in part: one restore per family of the chains that differ; later partial syncs plan on it', async () => {
    const first = harness(options);
    await first.start(workload());
    const { agent, restored } = restart(first.client, workload(true));
    const batches = await restored;
    expect(batches.length).toBeLessThanOrEqual(2);
    const text = batches.map((batch) => batch.input).join('');
    expect(text).toContain('10.244.0.9');
    expect(text).toContain('10.96.3.1');
    expect(text).not.toContain('10.244.3.50');
    expect(dump(first.client, mode)).toBe(await fresh(workload(true)));

    const later = [upsert(endpointSliceObject('bulk-50', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.8.8' }] }))];
    const partial = await agent.change(later);
    expect(partial).toHaveLength(1);
    expect(dump(first.client, mode)).toBe(await fresh([...workload(true), ...later]));
  });

  it.each([
    ['a hook missing', ['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'kplane masquerade', '-j', 'KPLANE-POSTROUTING']],
    ['a hook twice', ['-t', 'filter', '-A', 'INPUT', '-m', 'comment', '--comment', 'kplane rejected and dropped service traffic', '-j', 'KPLANE-FILTER']],
  ])('over %s: falls back to the full rewrite; the kernel is as a fresh run writes it', async (_, tamper) => {
    const first = harness(options);
    await first.start(workload());
    first.client.command(mode, 4, tamper);
    const batches = await restart(first.client, workload()).restored;
    expect(batches.map((batch) => batch.input).join('')).toContain(':KPLANE-SERVICES - [0:0]');
    expect(dump(first.client, mode).replace(/KPLANE-(IPS|NP-\w+)-\d+/g, 'KPLANE-$1-#')).toBe((await fresh(workload())).replace(/KPLANE-(IPS|NP-\w+)-\d+/g, 'KPLANE-$1-#'));
  });

  it('over chains of a mostly other workload: falls back to the full rewrite', async () => {
    const first = harness(options);
    await first.start(workload());
    const other = workload().map((event) => (event.action === 'upsert' && event.kind === 'EndpointSlice'
      ? upsert(JSON.parse(JSON.stringify(event.object).replaceAll('10.244.', '10.245.')) as Record<string, unknown>)
      : event));
    const batches = await restart(first.client, other).restored;
    expect(batches.map((batch) => batch.input).join('')).toContain(':KPLANE-SERVICES - [0:0]');
    const normalised = (text: string): string => text.replace(/KPLANE-(IPS|NP-\w+)-\d+/g, 'KPLANE-$1-#');
    expect(normalised(dump(first.client, mode))).toBe(normalised(await fresh(other)));
  });

  // Chains are compared whole, so what another layout or leaf size changes is rewritten, whatever the path.
  it('after a restart with the other layout: the kernel is as a fresh run of that layout writes it', async () => {
    const first = harness(options);
    await first.start(workload());
    const other = { ...options, layout: layout === 'tree' ? 'flat' : 'tree' };
    await restart(first.client, workload(), other).restored;
    const normalised = (text: string): string => text.replace(/KPLANE-(IPS|NP-\w+)-\d+/g, 'KPLANE-$1-#');
    expect(normalised(dump(first.client, mode))).toBe(normalised(await fresh(workload(), other)));
  });
});
