import { describe, expect, it, vi } from 'vitest';
import { FEATURES } from '../../src/index.js';
import { serviceObject } from '../../src/testing/index.js';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { RecordingBackend } from '../support/recording-backend.js';
import { NODE, nodeObject, service, proxiesPerTest } from './harness.js';

const { start: proxy } = proxiesPerTest();

describe('Events for rejected objects', () => {
  it('creates a Warning Event on the refused object, once per problem, and programs the others', async () => {
    const { server, started, lastSync, metrics } = await proxy({ server: await FakeApiServer.start() });
    server.apply(nodeObject(NODE));
    server.apply(service('web', '10.96.0.1'));
    const broken = server.apply(serviceObject('broken', { namespace: 'shop', clusterIPs: ['10.96.0.300'], ports: [{ port: 80 }] }));
    await started;
    await vi.waitFor(() => expect(server.objects('Event')).toHaveLength(1));
    expect(server.objects('Event')[0]).toMatchObject({
      metadata: { namespace: 'shop', name: expect.stringMatching(/^broken-/) },
      regarding: { kind: 'Service', apiVersion: 'v1', namespace: 'shop', name: 'broken', uid: broken.metadata.uid },
      type: 'Warning',
      reason: 'InvalidObject',
      action: 'Reject',
      reportingController: 'kplane',
      reportingInstance: `kplane-${NODE}`,
      note: expect.stringContaining('spec.clusterIP'),
      eventTime: expect.stringMatching(/\.\d{6}Z$/),
    });
    await vi.waitFor(() => expect(Object.keys(lastSync()?.endpoints ?? {})).toEqual(['default/web:http/TCP']));
    // The same problem again is not news; a different one is.
    server.apply({ ...serviceObject('broken', { namespace: 'shop', clusterIPs: ['10.96.0.300'], ports: [{ port: 80 }] }), metadata: { name: 'broken', namespace: 'shop', labels: { touched: 'yes' } } });
    server.apply(serviceObject('broken', { namespace: 'shop', clusterIPs: ['10.96.0.2'], ports: [{ port: 70_000 }] }));
    await vi.waitFor(() => expect(server.objects('Event')).toHaveLength(2));
    expect(server.objects('Event').map((event) => String(event.note)).sort()).toEqual([expect.stringContaining('spec.clusterIP'), expect.stringContaining('spec.ports[0].port')]);
    // The port out of range costs that port alone, not the Service.
    expect(await metrics.registry.getSingleMetricAsString('kplane_rejected_objects_total')).toContain('{kind="Service",reason="invalid"} 2');
    expect(await metrics.registry.getSingleMetricAsString('kplane_service_ports_skipped_total')).toContain('{reason="invalid"} 1');
    expect(server.objects('Event').find((event) => String(event.note).includes('spec.ports[0].port'))).toMatchObject({ action: 'Skip' });
  });

  it('says which feature the backend lacks, and puts Events about the Node in the default namespace', async () => {
    const backend = new RecordingBackend(false, new Set(FEATURES.filter((feature) => feature !== 'SCTP')));
    const { server, started } = await proxy({ backend, server: await FakeApiServer.start() });
    server.apply({ ...nodeObject(NODE), spec: { taints: 'not-a-list' } });
    server.apply(serviceObject('signal', { clusterIPs: ['10.96.0.5'], ports: [{ port: 9999, protocol: 'SCTP' }] }));
    await started;
    await vi.waitFor(() => expect(server.objects('Event')).toHaveLength(2));
    const events = Object.fromEntries(server.objects('Event').map((event) => [(event.regarding as { kind: string }).kind, event]));
    expect(events.Service).toMatchObject({ reason: 'UnsupportedFeature', note: expect.stringContaining('SCTP') });
    expect(events.Node).toMatchObject({ metadata: { namespace: 'default' }, regarding: { kind: 'Node', name: NODE }, reason: 'InvalidObject' });
    expect((events.Node!.regarding as { namespace?: string }).namespace).toBeUndefined();
  });
});
