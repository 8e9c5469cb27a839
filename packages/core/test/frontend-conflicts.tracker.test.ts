import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContainerModule, TOKENS, type ServicePort } from '../src/index.js';
import { ChangeTracker } from '../src/tracker/change-tracker.js';
import { validateService, type ValidService } from '../src/validation/validate.js';
import { remove, serviceObject, testProxy, upsert, type ServiceSpec } from '../src/testing/index.js';
import { conflictMessage } from '../src/tracker/frontend-claims.js';
import { RecordingBackend } from './support/recording-backend.js';

const NODE = { name: 'node-a', zone: null };
const OLD = '2026-01-01T00:00:00Z';
const NEW = '2026-02-01T00:00:00Z';

function service(name: string, spec: Partial<ServiceSpec> & { clusterIPs: readonly string[] }): ValidService {
  const result = validateService(serviceObject(name, { ports: [{ name: 'http', port: 80 }], ...spec }));
  if (!result.ok) throw result.error;
  return result.value;
}

/** Every frontend of the tracker's state, as `frontend → port key`; fails on a frontend two ports share. */
function frontends(tracker: ChangeTracker): Map<string, string> {
  const held = new Map<string, string>();
  for (const { servicePort: port } of tracker.state.values()) {
    const own = new Set([...port.clusterIPs, ...port.externalIPs, ...port.loadBalancerIPs].map((ip) => `${ip} ${port.port}/${port.protocol}`));
    if (port.nodePort !== null) own.add(`:${port.nodePort}/${port.protocol}`);
    for (const frontend of own) {
      if (held.has(frontend)) throw new Error(`${frontend} is programmed for ${held.get(frontend)} and ${port.key}`);
      held.set(frontend, port.key);
    }
  }
  return held;
}

const port = (tracker: ChangeTracker, key: string): ServicePort | undefined => tracker.state.get(key)?.servicePort;

describe('frontend conflicts: two Services claiming one frontend', () => {
  it('give it to the oldest Service whatever the arrival order; the younger keeps its other frontends and ports', () => {
    const older = service('zeta', { clusterIPs: ['10.96.0.1'], externalIPs: ['192.0.2.1'], creationTimestamp: OLD });
    const younger = service('alpha', {
      clusterIPs: ['10.96.0.2'], externalIPs: ['192.0.2.1', '192.0.2.2'], creationTimestamp: NEW,
      ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }],
    });
    for (const order of [[older, younger], [younger, older]]) {
      const tracker = new ChangeTracker(NODE);
      for (const each of order) tracker.upsertService(each);
      const { conflicts } = tracker.take();
      expect(port(tracker, 'default/zeta:http/TCP')?.externalIPs).toEqual(['192.0.2.1']);
      expect(port(tracker, 'default/alpha:http/TCP')?.externalIPs).toEqual(['192.0.2.2']);
      expect(port(tracker, 'default/alpha:http/TCP')?.clusterIPs).toEqual(['10.96.0.2']);
      expect(port(tracker, 'default/alpha:https/TCP')?.externalIPs).toEqual(['192.0.2.1', '192.0.2.2']);
      expect(conflicts).toEqual([{ frontend: '192.0.2.1 80/TCP', winner: 'default/zeta', loser: 'default/alpha:http/TCP' }]);
      expect(conflictMessage(conflicts[0]!)).toBe('frontend 192.0.2.1 80/TCP is claimed by default/zeta and default/alpha:http/TCP: it is programmed for the older one, default/zeta, only');
      expect(tracker.frontendConflicts).toBe(1);
    }
  });

  it('break a tie of creation times by namespace/name, and rank a Service without one after every dated one', () => {
    const tracker = new ChangeTracker(NODE);
    tracker.upsertService(service('b', { clusterIPs: ['10.96.0.2'], externalIPs: ['192.0.2.1'], creationTimestamp: OLD }));
    tracker.upsertService(service('a', { clusterIPs: ['10.96.0.1'], externalIPs: ['192.0.2.1'], creationTimestamp: OLD }));
    tracker.upsertService(service('0-undated', { clusterIPs: ['10.96.0.3'], externalIPs: ['192.0.2.1'] }));
    tracker.take();
    expect(frontends(tracker).get('192.0.2.1 80/TCP')).toBe('default/a:http/TCP');
    expect(tracker.frontendConflicts).toBe(2);
  });

  it('hand the frontend to the next claimant in the sync after the holder goes, with its port among the changes, and warn only about new conflicts', () => {
    const tracker = new ChangeTracker(NODE);
    tracker.upsertService(service('old', { clusterIPs: ['10.96.0.1'], type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }], creationTimestamp: OLD }));
    tracker.upsertService(service('new', { clusterIPs: ['10.96.0.2'], type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }], creationTimestamp: NEW }));
    expect(tracker.take().conflicts).toHaveLength(1);
    expect(port(tracker, 'default/new:http/TCP')?.nodePort).toBeNull();

    // A change of the loser that keeps the conflict is no new warning.
    tracker.upsertService(service('new', { clusterIPs: ['10.96.0.2'], type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }], creationTimestamp: NEW, externalIPs: ['192.0.2.9'] }));
    expect(tracker.take().conflicts).toEqual([]);

    tracker.deleteService('default/old');
    const changes = tracker.take();
    expect([...changes.ports.keys()].sort()).toEqual(['default/new:http/TCP', 'default/old:http/TCP']);
    expect(port(tracker, 'default/new:http/TCP')?.nodePort).toBe(30080);
    expect(tracker.frontendConflicts).toBe(0);
  });

  it('leave out a port whose every cluster IP another Service holds, as a port without a supported cluster IP is', () => {
    const tracker = new ChangeTracker(NODE);
    tracker.upsertService(service('old', { clusterIPs: ['10.96.0.1'], creationTimestamp: OLD }));
    tracker.upsertService(service('copy', { clusterIPs: ['10.96.0.1'], creationTimestamp: NEW, ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
    tracker.take();
    expect([...tracker.state.keys()].sort()).toEqual(['default/copy:dns/UDP', 'default/old:http/TCP']);
  });

  it('are counted in kplane_frontend_conflicts while they last', async () => {
    const proxy = testProxy(new ContainerModule(({ bind }) => void bind(TOKENS.Backend).toConstantValue(new RecordingBackend())));
    const shared = (name: string, creationTimestamp: string) => upsert(serviceObject(name, { clusterIPs: [name === 'a' ? '10.96.0.1' : '10.96.0.2'], externalIPs: ['192.0.2.1'], ports: [{ name: 'http', port: 80 }], creationTimestamp }));
    await proxy.start([shared('a', OLD), shared('b', NEW)]);
    expect(await proxy.metrics.registry.getSingleMetricAsString('kplane_frontend_conflicts')).toMatch(/^kplane_frontend_conflicts 1$/m);
    await proxy.sync([remove('Service', 'default/a')]);
    expect(await proxy.metrics.registry.getSingleMetricAsString('kplane_frontend_conflicts')).toMatch(/^kplane_frontend_conflicts 0$/m);
  });
});

/** Five Services over a few shared addresses and node ports, with creation times that can tie. */
const change = fc.oneof(
  fc.record({
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    clusterIP: fc.constantFrom('10.96.0.1', '10.96.0.2', '10.96.0.3', '10.96.0.4', '10.96.0.5'),
    externalIPs: fc.subarray(['192.0.2.1', '192.0.2.2', '10.96.0.1']),
    loadBalancerIP: fc.option(fc.constantFrom('192.0.2.1', '198.51.100.1'), { nil: undefined }),
    ports: fc.uniqueArray(fc.constantFrom(80, 443), { minLength: 1, maxLength: 2 }),
    nodePort: fc.option(fc.constantFrom(30080, 30081), { nil: undefined }),
    day: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  }).map(({ name, clusterIP, externalIPs, loadBalancerIP, ports, nodePort, day }) => service(name, {
    clusterIPs: [clusterIP],
    externalIPs,
    type: loadBalancerIP ? 'LoadBalancer' : nodePort ? 'NodePort' : 'ClusterIP',
    ...(loadBalancerIP && { loadBalancerIPs: [loadBalancerIP] }),
    ports: ports.map((number, index) => ({ name: `p${number}`, port: number, ...(index === 0 && nodePort && { nodePort }) })),
    ...(day !== undefined && { creationTimestamp: `2026-01-0${day}T00:00:00Z` }),
  })),
  fc.constantFrom('a', 'b', 'c', 'd', 'e').map((name) => `default/${name}`),
);

describe('frontend conflicts, property', () => {
  it('incremental takes program the same frontends as one take of the final Services, and no frontend twice', () => {
    fc.assert(fc.property(fc.array(fc.array(change, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }), (batches) => {
      const incremental = new ChangeTracker(NODE);
      const final = new Map<string, ValidService>();
      for (const batch of batches) {
        for (const step of batch) {
          if (typeof step === 'string') {
            incremental.deleteService(step);
            final.delete(step);
          } else {
            incremental.upsertService(step);
            final.set(step.name, step);
          }
        }
        incremental.take();
        frontends(incremental);
      }
      const fresh = new ChangeTracker(NODE);
      for (const each of [...final.values()].reverse()) fresh.upsertService(each);
      fresh.take();
      expect(frontends(incremental)).toEqual(frontends(fresh));
      expect(incremental.state).toEqual(fresh.state);
      expect(incremental.frontendConflicts).toBe(fresh.frontendConflicts);
    }), { numRuns: 300 });
  });
});
