import { describe, expect, it } from 'vitest';
import { selectEndpoints, validateService, type Endpoint, type ServicePort } from '../src/index.js';
import { serviceObject, type ServiceSpec } from '../src/testing/index.js';

function port(spec: Partial<ServiceSpec> = {}): ServicePort {
  const result = validateService(serviceObject('web', { clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: spec.type ? 30080 : undefined }], ...spec }));
  if (!result.ok) throw result.error;
  return result.value.ports[0]!;
}

function endpoint(ip: string, patch: Partial<Endpoint> = {}): Endpoint {
  return { ip, family: 4, port: 8080, ready: true, serving: true, terminating: false, nodeName: 'node-b', zone: 'z2', hintZones: null, ...patch };
}

const node = { name: 'node-a', zone: 'z1' };
const ips = (endpoints: readonly Endpoint[]): string[] => endpoints.map((e) => e.ip);

describe('selectEndpoints (KEP-1669, traffic policies, topology)', () => {
  it('uses ready endpoints only when there are any', () => {
    const selection = selectEndpoints(port(), [endpoint('10.1.0.1'), endpoint('10.1.0.2', { ready: false, serving: true, terminating: true }), endpoint('10.1.0.3', { ready: false, serving: false })], node);
    expect(ips(selection.internalEndpoints)).toEqual(['10.1.0.1']);
    expect(ips(selection.externalEndpoints)).toEqual(['10.1.0.1']);
  });

  it('falls back to serving+terminating endpoints when none is ready', () => {
    const selection = selectEndpoints(port(), [endpoint('10.1.0.2', { ready: false, serving: true, terminating: true }), endpoint('10.1.0.3', { ready: false, serving: false, terminating: true })], node);
    expect(ips(selection.internalEndpoints)).toEqual(['10.1.0.2']);
  });

  it('keeps this node\'s endpoints for Local policies, with the same fallback', () => {
    const endpoints = [endpoint('10.1.0.1'), endpoint('10.1.0.2', { nodeName: 'node-a', ready: false, terminating: true }), endpoint('10.1.0.3', { nodeName: 'node-a' })];
    const local = selectEndpoints(port({ type: 'NodePort', externalTrafficPolicy: 'Local' }), endpoints, node);
    expect(ips(local.externalEndpoints)).toEqual(['10.1.0.3']);
    expect(ips(local.internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.3']);
    const terminatingOnly = selectEndpoints(port({ internalTrafficPolicy: 'Local' }), endpoints.slice(0, 2), node);
    expect(ips(terminatingOnly.internalEndpoints)).toEqual(['10.1.0.2']);
    expect(selectEndpoints(port({ internalTrafficPolicy: 'Local' }), [endpoint('10.1.0.1')], node).internalEndpoints).toEqual([]);
  });

  it('follows topology hints when every ready endpoint has them', () => {
    const hinted = [endpoint('10.1.0.1', { hintZones: ['z1'] }), endpoint('10.1.0.2', { hintZones: ['z2'] })];
    expect(ips(selectEndpoints(port(), hinted, node).internalEndpoints)).toEqual(['10.1.0.1']);
    const partly = [endpoint('10.1.0.1', { hintZones: ['z1'] }), endpoint('10.1.0.2')];
    expect(ips(selectEndpoints(port(), partly, node).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
    const otherZone = [endpoint('10.1.0.1', { hintZones: ['z3'] })];
    expect(ips(selectEndpoints(port(), otherZone, node).internalEndpoints)).toEqual(['10.1.0.1']);
  });

  it('prefers this zone for PreferClose without hints', () => {
    const endpoints = [endpoint('10.1.0.1', { zone: 'z1' }), endpoint('10.1.0.2')];
    expect(ips(selectEndpoints(port({ trafficDistribution: 'PreferClose' }), endpoints, node).internalEndpoints)).toEqual(['10.1.0.1']);
    expect(ips(selectEndpoints(port(), endpoints, node).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(ips(selectEndpoints(port({ trafficDistribution: 'PreferClose' }), endpoints, { name: 'node-a', zone: null }).internalEndpoints)).toHaveLength(2);
  });
});
