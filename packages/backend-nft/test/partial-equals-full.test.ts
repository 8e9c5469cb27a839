import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import { remove, upsert } from '@kplane/core/testing';
import { eps, fakeProxy, svc } from './support.js';

/** A random Service among a few names, with random features. */
const serviceEvent = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd'),
  type: fc.constantFrom('ClusterIP' as const, 'NodePort' as const, 'LoadBalancer' as const),
  protocol: fc.constantFrom('TCP' as const, 'UDP' as const),
  dualStack: fc.boolean(),
  affinity: fc.boolean(),
  local: fc.boolean(),
  externalIP: fc.boolean(),
}).map(({ name, type, protocol, dualStack, affinity, local, externalIP }): SourceEvent => {
  const index = name.charCodeAt(0);
  return svc(name, {
    type,
    clusterIPs: dualStack ? [`10.96.0.${index}`, `fd00:96::${index}`] : [`10.96.0.${index}`],
    ...(affinity && { affinitySeconds: 60 }),
    ...(local && type !== 'ClusterIP' && { externalTrafficPolicy: 'Local' as const }),
    ...(externalIP && { externalIPs: [`192.0.2.${index}`] }),
    ...(type === 'LoadBalancer' && { loadBalancerIPs: [`198.51.100.${index}`] }),
  }, protocol);
});

const endpointEvent = fc.record({
  name: fc.constantFrom('a', 'b', 'c', 'd'),
  hosts: fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { maxLength: 4 }),
  protocol: fc.constantFrom('TCP' as const, 'UDP' as const),
  remote: fc.boolean(),
}).map(({ name, hosts, protocol, remote }) => eps(name, hosts.map((host) => `10.244.1.${host}`), { protocol, nodeName: remote ? 'node-b' : 'node-a' }));

const deleteEvent = fc.constantFrom('a', 'b', 'c', 'd').map((name) => remove('Service', `default/${name}`));

/** A ServiceCIDR among two names, of one family or both, or its deletion. */
const serviceCIDREvent = fc.record({
  name: fc.constantFrom('primary', 'extra'),
  cidrs: fc.constantFrom(['10.96.0.0/12'], ['10.96.0.0/16', 'fd00:96::/108'], ['fd00:96::/64'], null),
}).map(({ name, cidrs }): SourceEvent => (cidrs
  ? upsert({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name }, spec: { cidrs } })
  : remove('ServiceCIDR', name)));

/** Batches of events, each batch followed by one sync. */
const history = fc.array(fc.array(fc.oneof(serviceEvent, endpointEvent, deleteEvent, serviceCIDREvent), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 });

describe('nft partial syncs', () => {
  it('leave the kernel exactly as a full sync of the final state would (the Fake refusing every invalid step)', async () => {
    await fc.assert(fc.asyncProperty(history, async (batches) => {
      const incremental = fakeProxy();
      await incremental.sync([]);
      for (const batch of batches) await incremental.sync(batch);
      const fresh = fakeProxy();
      await fresh.sync(batches.flat());
      expect(incremental.nft.dump()).toBe(fresh.nft.dump());
    }), { numRuns: 150 });
  });
});
