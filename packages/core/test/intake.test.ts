import { describe, expect, it } from 'vitest';
import type { Feature, Rejection } from '../src/index.js';
import { endpointSliceObject, remove, serviceObject, upsert } from '../src/testing/index.js';
import { engineHarness } from './support/engine-harness.js';
import { RecordingBackend } from './support/recording-backend.js';

/** What a 20-line out-of-tree backend declares: protocols and families, no kind of external frontend. */
const basic = new Set<Feature>(['TCP', 'UDP', 'IPv4', 'IPv6']);

// ingress-nginx's controller Service, as its Helm chart renders it on a cloud.
const ingressNginx = serviceObject('ingress-nginx-controller', {
  type: 'LoadBalancer', clusterIPs: ['10.96.7.7'], loadBalancerIPs: ['198.51.100.7'], externalTrafficPolicy: 'Local', healthCheckNodePort: 31999,
  ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }, { name: 'https', port: 443, targetPort: 'https', nodePort: 30443 }],
});

function harness(features: ReadonlySet<Feature>) {
  const proxy = engineHarness({}, new RecordingBackend(false, features));
  const rejections: Rejection[] = [];
  proxy.engine.onRejected((rejection) => rejections.push(rejection));
  return { ...proxy, rejections };
}

async function count(proxy: ReturnType<typeof harness>, name: string): Promise<string> {
  return proxy.metrics.registry.getSingleMetricAsString(name);
}

describe('intake: a backend that lacks a feature costs only the parts that need it', () => {
  it('programs the cluster IP of a LoadBalancer Service on a backend without external frontends', async () => {
    const proxy = harness(basic);
    proxy.engine.handle([upsert(ingressNginx)]);
    proxy.engine.start();
    await proxy.clock.advance(0);
    const ports = [...proxy.engine.desiredState.values()].map((state) => state.servicePort);
    expect(ports.map((port) => [port.key, port.clusterIPs, port.nodePort, port.loadBalancerIPs])).toEqual([
      ['default/ingress-nginx-controller:http/TCP', ['10.96.7.7'], null, []],
      ['default/ingress-nginx-controller:https/TCP', ['10.96.7.7'], null, []],
    ]);
    expect(await count(proxy, 'kplane_service_ports_skipped_total')).toContain('{reason="unsupported_frontend"} 2');
    expect(await count(proxy, 'kplane_rejected_objects_total')).not.toMatch(/} [1-9]/);
    expect(proxy.rejections.map((rejection) => [rejection.partial, rejection.error.message])).toEqual([
      [true, 'Service default/ingress-nginx-controller: port http/TCP: programmed without the frontends that need NodePort, LoadBalancerIP, which backend "recording" lacks'],
      [true, 'Service default/ingress-nginx-controller: port https/TCP: programmed without the frontends that need NodePort, LoadBalancerIP, which backend "recording" lacks'],
    ]);
  });

  it('leaves out an SCTP port and programs the TCP ports of the same Service', async () => {
    const proxy = harness(basic);
    const mixed = serviceObject('signal', { clusterIPs: ['10.96.0.11'], ports: [{ name: 'sig', port: 9999, protocol: 'SCTP' }, { name: 'http', port: 80 }] });
    proxy.engine.handle([upsert(mixed), upsert(endpointSliceObject('signal', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.1.0.1' }] }))]);
    proxy.engine.start();
    await proxy.clock.advance(0);
    expect(proxy.backend.syncs[0]!.endpoints).toEqual({ 'default/signal:http/TCP': ['10.1.0.1:8080'] });
    expect(await count(proxy, 'kplane_service_ports_skipped_total')).toContain('{reason="unsupported"} 1');
  });

  it('applies the API server\'s create rules to manifests, and only what is unsafe to objects an API server serves', async () => {
    // The API server refuses loadBalancerSourceRanges on a ClusterIP Service; a stored object never has it, and it is harmless.
    const odd = { ...serviceObject('odd', { clusterIPs: ['10.96.0.12'], ports: [{ port: 80 }] }) };
    (odd.spec as Record<string, unknown>).loadBalancerSourceRanges = ['192.0.2.0/24'];
    const fromFile = harness(basic);
    fromFile.engine.handle([{ action: 'upsert', kind: 'Service', object: odd, origin: 'manifest' }]);
    expect(fromFile.rejections.map((rejection) => rejection.error.message)).toEqual([expect.stringContaining('spec.loadBalancerSourceRanges')]);
    const fromApi = harness(basic);
    fromApi.engine.handle([{ action: 'upsert', kind: 'Service', object: odd, origin: 'api-server' }]);
    fromApi.engine.start();
    await fromApi.clock.advance(0);
    expect(fromApi.rejections).toEqual([]);
    expect([...fromApi.engine.desiredState.values()].map((state) => state.servicePort.key)).toEqual(['default/odd:80/TCP']);
  });

  it('reports a part once while it lasts, and again when it comes back', async () => {
    const proxy = harness(basic);
    const sctp = (port: number) => upsert(serviceObject('signal', { clusterIPs: ['10.96.0.11'], ports: [{ name: 'sig', port, protocol: 'SCTP' }, { name: 'http', port: 80 }] }));
    proxy.engine.handle([sctp(9999), sctp(9999), sctp(9999)]);
    expect(proxy.rejections).toHaveLength(1);
    proxy.engine.handle([upsert(serviceObject('signal', { clusterIPs: ['10.96.0.11'], ports: [{ name: 'http', port: 80 }] })), sctp(9999)]);
    expect(proxy.rejections).toHaveLength(2);
    proxy.engine.handle([remove('Service', 'default/signal'), sctp(9999)]);
    expect(proxy.rejections).toHaveLength(3);
    expect(await count(proxy, 'kplane_service_ports_skipped_total')).toContain('{reason="unsupported"} 3');
  });
});
