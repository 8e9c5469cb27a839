import { describe, expect, it } from 'vitest';
import type { Endpoint, ServicePort } from '../src/index.js';
import { selectEndpoints } from '../src/tracker/endpoint-selection.js';
import { validateService } from '../src/validation/validate.js';
import { serviceObject, type ServiceSpec } from '../src/testing/index.js';

function port(spec: Partial<ServiceSpec> = {}): ServicePort {
  const result = validateService(serviceObject('web', { clusterIPs: ['10.96.0.1'], ports: [{ port: 80, nodePort: spec.type ? 30080 : undefined }], ...spec }));
  if (!result.ok) throw result.error;
  return result.value.ports[0]!;
}

function endpoint(ip: string, patch: Partial<Endpoint> = {}): Endpoint {
  return { ip, family: 4, port: 8080, ready: true, serving: true, terminating: false, nodeName: 'node-b', zone: 'z2', hintZones: null, hintNodes: null, ...patch };
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

  // KEP-3015, kube-proxy's topologyModeFromHints: node hints first, then zone hints, then every endpoint.
  it('follows node hints when every ready endpoint has one and one is for this node', () => {
    const hinted = [
      endpoint('10.1.0.1', { hintNodes: ['node-a'], hintZones: ['z1'] }),
      endpoint('10.1.0.2', { hintNodes: ['node-b'], hintZones: ['z1'] }),
      endpoint('10.1.0.3', { hintNodes: ['node-c'], hintZones: ['z2'] }),
    ];
    expect(ips(selectEndpoints(port({ trafficDistribution: 'PreferSameNode' }), hinted, node).internalEndpoints)).toEqual(['10.1.0.1']);
    expect(ips(selectEndpoints(port(), hinted, { name: 'node-x', zone: 'z1' }).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(ips(selectEndpoints(port(), hinted, { name: 'node-x', zone: 'z9' }).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2', '10.1.0.3']);
  });

  it('follows node hints on a node without a zone', () => {
    const hinted = [endpoint('10.1.0.1', { hintNodes: ['node-a'] }), endpoint('10.1.0.2', { hintNodes: ['node-b'] })];
    expect(ips(selectEndpoints(port(), hinted, { name: 'node-a', zone: null }).internalEndpoints)).toEqual(['10.1.0.1']);
  });

  it('falls back to zone hints when one ready endpoint lacks a node hint', () => {
    const hinted = [endpoint('10.1.0.1', { hintNodes: ['node-a'], hintZones: ['z1'] }), endpoint('10.1.0.2', { hintZones: ['z1'] }), endpoint('10.1.0.3', { hintZones: ['z2'] })];
    expect(ips(selectEndpoints(port(), hinted, node).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('ignores the hints of endpoints that are not ready, and never narrows the terminating fallback', () => {
    const endpoints = [endpoint('10.1.0.1', { hintNodes: ['node-a'] }), endpoint('10.1.0.2', { ready: false, terminating: true })];
    expect(ips(selectEndpoints(port(), endpoints, node).internalEndpoints)).toEqual(['10.1.0.1']);
    const terminating = [endpoint('10.1.0.1', { ready: false, terminating: true, hintNodes: ['node-b'] }), endpoint('10.1.0.2', { ready: false, terminating: true, hintNodes: ['node-a'] })];
    expect(ips(selectEndpoints(port(), terminating, node).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('applies topology to Cluster traffic only, never to a Local policy', () => {
    const hinted = [endpoint('10.1.0.1', { nodeName: 'node-a', hintNodes: ['node-b'] }), endpoint('10.1.0.2', { hintNodes: ['node-a'] })];
    const selection = selectEndpoints(port({ type: 'NodePort', externalTrafficPolicy: 'Local' }), hinted, node);
    expect(ips(selection.internalEndpoints)).toEqual(['10.1.0.2']);
    expect(ips(selection.externalEndpoints)).toEqual(['10.1.0.1']);
  });

  it('without hints, writes the ones an EndpointSlice controller would for PreferSameNode: this node, else this zone, else all', () => {
    const sameNode = port({ trafficDistribution: 'PreferSameNode' });
    const spread = [endpoint('10.1.0.1', { nodeName: 'node-a', zone: 'z1' }), endpoint('10.1.0.2', { nodeName: 'node-b', zone: 'z1' }), endpoint('10.1.0.3', { nodeName: 'node-c', zone: 'z2' })];
    expect(ips(selectEndpoints(sameNode, spread, node).internalEndpoints)).toEqual(['10.1.0.1']);
    expect(ips(selectEndpoints(sameNode, spread.slice(1), node).internalEndpoints)).toEqual(['10.1.0.2']);
    expect(ips(selectEndpoints(sameNode, spread.slice(2), node).internalEndpoints)).toEqual(['10.1.0.3']);
    expect(ips(selectEndpoints(port({ trafficDistribution: 'PreferSameZone' }), spread, node).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('without hints, narrows to this zone only when every ready endpoint has a zone (the controller writes none otherwise)', () => {
    const endpoints = [endpoint('10.1.0.1', { zone: 'z1' }), endpoint('10.1.0.2', { zone: null })];
    expect(ips(selectEndpoints(port({ trafficDistribution: 'PreferSameZone' }), endpoints, node).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('takes the hints the slices carry over the ones trafficDistribution would give, even when only some carry them', () => {
    const endpoints = [endpoint('10.1.0.1', { nodeName: 'node-a', zone: 'z1', hintZones: ['z1'] }), endpoint('10.1.0.2', { nodeName: 'node-b', zone: 'z1' })];
    expect(ips(selectEndpoints(port({ trafficDistribution: 'PreferSameNode' }), endpoints, node).internalEndpoints)).toEqual(['10.1.0.1', '10.1.0.2']);
  });
});
