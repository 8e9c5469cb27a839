import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { NetnsExecutor } from '@kplane/conformance';
import type { SourceEvent } from '@kplane/core';
import { kernelHarness } from './support/harness.js';

const WORKLOAD: SourceEvent[] = [
  upsert(serviceObject('lb', {
    type: 'LoadBalancer', clusterIPs: ['10.96.1.1', 'fd00:96::1'], loadBalancerIPs: ['198.51.100.10'], loadBalancerSourceRanges: ['192.168.50.0/24'],
    externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ name: 'http', port: 80, nodePort: 30080 }],
  })),
  upsert(endpointSliceObject('lb', { name: 'lb-4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.0.1', nodeName: 'node-a' }, { ip: '10.244.9.1', nodeName: 'node-b' }] })),
  upsert(endpointSliceObject('lb', { name: 'lb-6', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: 'fd00:10:244::1', nodeName: 'node-b' }] })),
  upsert(serviceObject('sticky', { clusterIPs: ['10.96.1.2'], affinitySeconds: 600, ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] })),
  upsert(endpointSliceObject('sticky', { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ ip: '10.244.0.3' }, { ip: '10.244.0.4' }, { ip: '10.244.0.5' }] })),
  upsert(serviceObject('signal', { type: 'NodePort', clusterIPs: ['10.96.1.3'], ports: [{ name: 'sctp', port: 3868, protocol: 'SCTP', nodePort: 31868 }] })),
  upsert(endpointSliceObject('signal', { ports: [{ name: 'sctp', port: 3868, protocol: 'SCTP' }], endpoints: [{ ip: '10.244.0.6' }] })),
  ...Array.from({ length: 40 }, (_, i) => [
    upsert(serviceObject(`bulk-${i}`, { clusterIPs: [`10.96.2.${i + 1}`], ports: [{ name: 'http', port: 80 }] })),
    upsert(endpointSliceObject(`bulk-${i}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: `10.244.3.${i + 1}` }, { ip: `10.244.4.${i + 1}` }] })),
  ]).flat(),
];

/**
 * The read-back against the real iptables-save: a restart over chains iptables prints in its own
 * spelling (marks, probabilities, REJECT and recent defaults) finds them matching and restores nothing.
 */
describe('iptables: the first sync after a restart over matching chains restores nothing (real iptables)', () => {
  const namespaces: string[] = [];
  afterEach(async () => {
    for (const namespace of namespaces.splice(0)) await execa('ip', ['netns', 'delete', namespace], { reject: false });
  });

  it.each([['nft', 'tree'], ['nft', 'flat'], ['legacy', 'tree'], ['legacy', 'flat']])('%s mode, %s layout', async (mode, layout) => {
    const namespace = `kprb${randomBytes(3).toString('hex')}`;
    namespaces.push(namespace);
    await execa('ip', ['netns', 'add', namespace]);
    const executor = new NetnsExecutor(namespace);
    const options = { mode, layout, 'leaf-size': '4' };
    const config = { clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'], masqueradeAll: layout === 'flat' };
    const first = kernelHarness(options, config, executor);
    await first.start(WORKLOAD);
    const before = executor.applied.length;
    await kernelHarness(options, config, executor).start(WORKLOAD);
    expect(executor.applied.slice(before).filter((batch) => batch.tool.endsWith('-restore')).map((batch) => batch.input)).toEqual([]);
  });
});
