import { describe, expect, it, vi } from 'vitest';
import { endpointSliceObject, serviceObject } from '../src/testing/index.js';
import { ChangeTracker } from '../src/tracker/change-tracker.js';
import { buildServicePorts } from '../src/tracker/service-port-builder.js';
import { validateEndpointSlice, validateService, type ValidEndpointSlice, type ValidService } from '../src/validation/validate.js';

// The tracker's unit of work: building one Service's ports from its slices. Counted, not timed.
vi.mock(import('../src/tracker/service-port-builder.js'), async (load) => {
  const actual = await load();
  return { ...actual, buildServicePorts: vi.fn(actual.buildServicePorts) };
});
const builds = vi.mocked(buildServicePorts);

function service(name: string, ip: string, port = 80): ValidService {
  const result = validateService(serviceObject(name, { clusterIPs: [ip], ports: [{ name: 'http', port }] }));
  if (!result.ok) throw result.error;
  return result.value;
}

function slice(serviceName: string, ips: string[], sliceName?: string): ValidEndpointSlice {
  const result = validateEndpointSlice(endpointSliceObject(serviceName, { name: sliceName, ports: [{ name: 'http', port: 8080 }], endpoints: ips.map((ip) => ({ ip })) }));
  if (!result.ok) throw result.error;
  return result.value;
}

const endpointsOf = (tracker: ChangeTracker, key: string): string[] | undefined => tracker.state.get(key)?.endpoints.map((endpoint) => endpoint.ip);

describe('ChangeTracker', () => {
  it('coalesces 100 events on one service into one change', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    tracker.upsertService(service('web', '10.96.0.1'));
    for (let i = 0; i < 100; i++) tracker.upsertEndpointSlice(slice('web', [`10.1.0.${i % 250}`]));
    expect(tracker.pendingServiceChanges).toBe(1);
    expect(tracker.pendingEndpointChanges).toBe(1);
    const changes = tracker.take();
    expect([...changes.ports.keys()]).toEqual(['default/web:http/TCP']);
    expect(endpointsOf(tracker, 'default/web:http/TCP')).toEqual(['10.1.0.99']);
    expect(tracker.hasPending).toBe(false);
  });

  it('drops a change that returns to the previous state', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    tracker.upsertService(service('web', '10.96.0.1'));
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.1']));
    tracker.take();
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.2']));
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.1']));
    expect(tracker.take().ports.size).toBe(0);
  });

  it('merges several slices of one service and reports deletions', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    tracker.upsertService(service('web', '10.96.0.1'));
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.2', '10.1.0.1'], 'web-a'));
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.3', '10.1.0.1'], 'web-b'));
    tracker.take();
    expect(endpointsOf(tracker, 'default/web:http/TCP')).toEqual(['10.1.0.1', '10.1.0.2', '10.1.0.3']);
    tracker.deleteEndpointSlice('default/web-a');
    tracker.take();
    expect(endpointsOf(tracker, 'default/web:http/TCP')).toEqual(['10.1.0.1', '10.1.0.3']);
    tracker.deleteService('default/web');
    const changes = tracker.take();
    expect(changes.ports.get('default/web:http/TCP')?.current).toBeUndefined();
    expect(tracker.state.size).toBe(0);
  });

  it('reports a port removed from a service while the others stay', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    const twoPorts = validateService(serviceObject('web', { clusterIPs: ['10.96.0.1'], ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }));
    if (!twoPorts.ok) throw twoPorts.error;
    tracker.upsertService(twoPorts.value);
    tracker.take();
    tracker.upsertService(service('web', '10.96.0.1'));
    const changes = tracker.take();
    expect([...changes.ports.keys()]).toEqual(['default/web:https/TCP']);
    expect([...tracker.state.keys()]).toEqual(['default/web:http/TCP']);
  });

  it('works in proportion to the services that changed', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    for (let i = 0; i < 2000; i++) {
      tracker.upsertService(service(`s${i}`, `10.96.${i >> 8}.${i & 255}`));
      tracker.upsertEndpointSlice(slice(`s${i}`, [`10.1.${i >> 8}.${i & 255}`]));
    }
    expect(tracker.take().ports.size).toBe(2000);
    builds.mockClear();
    tracker.upsertEndpointSlice(slice('s7', ['10.2.0.7']));
    tracker.upsertService(service('s8', '10.96.0.8', 81));
    tracker.take();
    expect(builds.mock.calls.map(([, slices]) => slices[0]?.service).sort()).toEqual(['default/s7', 'default/s8']);
    builds.mockClear();
    expect(tracker.take().ports.size).toBe(0);
    expect(builds).not.toHaveBeenCalled();
    tracker.upsertEndpointSlice(slice('s7', ['10.2.0.8']));
    const changes = tracker.take();
    expect(builds).toHaveBeenCalledTimes(1);
    expect([...changes.ports.keys()]).toEqual(['default/s7:http/TCP']);
    expect(changes.ports.get('default/s7:http/TCP')?.previous?.endpoints[0]?.ip).toBe('10.2.0.7');
  });

  it('hands out a failed sync again, keeping the state the kernel may still hold as previous', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    tracker.upsertService(service('web', '10.96.0.1'));
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.1']));
    tracker.take();
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.2']));
    const failed = tracker.take();
    tracker.requeue(failed);
    expect(tracker.hasPending).toBe(true);
    tracker.upsertEndpointSlice(slice('web', ['10.1.0.3']));
    const retried = tracker.take().ports.get('default/web:http/TCP');
    expect(retried?.previous?.endpoints[0]?.ip).toBe('10.1.0.1');
    expect(retried?.current?.endpoints[0]?.ip).toBe('10.1.0.3');
  });

  it('moves a slice that changes service', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    tracker.upsertService(service('a', '10.96.0.1'));
    tracker.upsertService(service('b', '10.96.0.2'));
    tracker.upsertEndpointSlice(slice('a', ['10.1.0.1'], 'shared'));
    tracker.take();
    tracker.upsertEndpointSlice(slice('b', ['10.1.0.1'], 'shared'));
    const changes = tracker.take();
    expect([...changes.ports.keys()].sort()).toEqual(['default/a:http/TCP', 'default/b:http/TCP']);
    expect(endpointsOf(tracker, 'default/a:http/TCP')).toEqual([]);
    expect(endpointsOf(tracker, 'default/b:http/TCP')).toEqual(['10.1.0.1']);
  });
});
