import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import { remove, serviceObject, upsert } from '@kplane/core/testing';
import { endpoints, fakeNode, sctpWorld, world } from './support/world.js';

/** The objects a run of events leaves, by kind and reference. */
class Objects {
  private readonly byRef = new Map<string, Record<string, unknown>>();

  apply(events: readonly SourceEvent[]): void {
    for (const event of events) {
      if (event.action === 'delete') this.byRef.delete(`${event.kind}/${event.ref}`);
      else this.byRef.set(ref(event.object as Record<string, unknown>), event.object as Record<string, unknown>);
    }
  }

  events(): SourceEvent[] {
    return [...this.byRef.values()].map(upsert);
  }
}

function ref(object: Record<string, unknown>): string {
  const { namespace, name } = object.metadata as { namespace?: string; name: string };
  return `${String(object.kind)}/${namespace ? `${namespace}/` : ''}${name}`;
}

const STEPS: readonly (readonly [string, SourceEvent[]])[] = [
  ['an endpoint added', [upsert(endpoints('web', ['a', 'b', 'r']))]],
  ['endpoints removed', [upsert(endpoints('web', ['b']))]],
  ['a Service and its slice deleted', [remove('Service', 'default/ext'), remove('EndpointSlice', 'default/ext-4')]],
  ['externalTrafficPolicy Local to Cluster', [upsert(serviceObject('edge', {
    clusterIPs: ['10.96.0.40'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.11'], externalTrafficPolicy: 'Cluster',
    ports: [{ name: 'p', port: 80, nodePort: 30081 }],
  }))]],
  ['affinity dropped', [upsert(serviceObject('web', { clusterIPs: ['10.96.0.10', 'fd00:10:96::10'], type: 'NodePort', ports: [{ name: 'p', port: 80, nodePort: 30080 }] }))]],
  ['source ranges changed', [upsert(serviceObject('lb', {
    clusterIPs: ['10.96.0.30'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.10'], loadBalancerSourceRanges: ['10.0.0.0/8'],
    ports: [{ name: 'p', port: 443, nodePort: 30443 }],
  }))]],
  ['a service CIDR', [upsert({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/12', 'fd00:10:96::/108'] } })]],
  ['an SCTP LoadBalancer, externalTrafficPolicy Local, dual-stack', sctpWorld().map(upsert)],
  ['the IPv6 endpoints gone', [remove('EndpointSlice', 'default/web-6'), remove('EndpointSlice', 'default/sig-6')]],
  ['a Service whose cluster IP another one had', [remove('Service', 'default/dns'), upsert(serviceObject('dns2', { clusterIPs: ['10.96.0.53'], ports: [{ name: 'p', port: 53, protocol: 'UDP' }] }))]],
];

describe('ipvs partial syncs against the fake leave the kernel a full sync of the same state leaves', () => {
  it('step by step, each partial sync\'s kernel equals a fresh node\'s after one full sync', async () => {
    // No drains: a full sync never programs a draining endpoint, a partial one keeps it at weight 0.
    const config = { drainGraceMs: 0 };
    const node = fakeNode(config);
    const objects = new Objects();
    objects.apply(world().map(upsert));
    await node.start(objects.events());
    for (const [name, events] of STEPS) {
      objects.apply(events);
      const partial = await node.sync(events).then(() => node.fake.dump());
      const fresh = fakeNode(config);
      await fresh.start(objects.events());
      expect(partial, name).toBe(fresh.fake.dump());
    }
  });
});
