import { describe, expect, it, vi } from 'vitest';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { NODE, nodeObject, proxiesPerTest, service } from './harness.js';

const { start: proxy } = proxiesPerTest();

function serviceCIDR(name: string, cidrs: string[]): Record<string, unknown> {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name }, spec: { cidrs } };
}

describe('KubernetesSource: ServiceCIDRs', () => {
  it('watches networking.k8s.io/v1 ServiceCIDRs: the first sync has them, later changes follow', async () => {
    const { server, started, backend, lastSync, requests } = await proxy({ config: { serviceCIDRs: ['fd00:10:96::/108'] } });
    server.apply(nodeObject(NODE));
    server.apply(service('web', '10.96.0.1'));
    server.apply(serviceCIDR('kubernetes', ['10.96.0.0/12']));
    await started;
    await vi.waitFor(() => expect(backend.syncs.length).toBeGreaterThan(0));
    expect(backend.syncs[0]!.serviceCIDRs).toEqual(['10.96.0.0/12', 'fd00:10:96::/108']);
    expect(requests('list', 'servicecidrs')).toHaveLength(1);
    server.apply(serviceCIDR('extra', ['10.200.0.0/16']));
    await vi.waitFor(() => expect(lastSync()?.serviceCIDRs).toEqual(['10.200.0.0/16', '10.96.0.0/12', 'fd00:10:96::/108']));
    server.delete('ServiceCIDR', 'kubernetes');
    await vi.waitFor(() => expect(lastSync()?.serviceCIDRs).toEqual(['10.200.0.0/16', 'fd00:10:96::/108']));
  });

  it.each([[404, 'without the ServiceCIDR API'], [403, 'under a ClusterRole that does not grant ServiceCIDRs']])('starts on an API server %i (%s), with --service-cidr alone', async (status) => {
    const { server, started, backend, requests } = await proxy({ config: { serviceCIDRs: ['10.96.0.0/12'] } });
    server.failNext('list', 'servicecidrs', status, Number.POSITIVE_INFINITY);
    server.apply(nodeObject(NODE));
    server.apply(service('web', '10.96.0.1'));
    await started;
    await vi.waitFor(() => expect(backend.syncs.length).toBeGreaterThan(0));
    expect(backend.syncs[0]).toMatchObject({ full: true, serviceCIDRs: ['10.96.0.0/12'] });
    expect(Object.keys(backend.syncs[0]!.endpoints)).toEqual(['default/web:http/TCP']);
    expect(requests('list', 'servicecidrs').length).toBeGreaterThanOrEqual(1);
  });
});

describe('KubernetesSource: a refused ServiceCIDR', () => {
  it('gets a Warning Event that names it as the cluster-scoped networking.k8s.io/v1 object it is', async () => {
    const server = await FakeApiServer.start();
    const { started, backend } = await proxy({ server });
    server.apply(nodeObject(NODE));
    server.apply(serviceCIDR('bad', ['10.96.0.0/12', '10.200.0.0/16']));
    await started;
    await vi.waitFor(() => expect(server.objects('Event')).toHaveLength(1));
    expect(server.objects('Event')[0]).toMatchObject({
      metadata: { namespace: 'default' },
      regarding: { kind: 'ServiceCIDR', apiVersion: 'networking.k8s.io/v1', name: 'bad' },
      reason: 'InvalidObject',
      note: expect.stringContaining('spec.cidrs'),
    });
    expect((server.objects('Event')[0]!.regarding as { namespace?: string }).namespace).toBeUndefined();
    expect(backend.syncs[0]!.serviceCIDRs).toEqual([]);
  });
});
