import { describe, expect, it } from 'vitest';
import { validateEndpointSlice, validateNode, validateService } from '../src/index.js';
import { endpointSliceObject, serviceObject } from '../src/testing/index.js';

const web = serviceObject('web', { clusterIPs: ['10.96.0.10', 'fd00::a'], ports: [{ name: 'http', port: 80, targetPort: 'http-alt' }, { name: 'dns', port: 53, protocol: 'UDP' }] });

function withSpec(patch: Record<string, unknown>, base: Record<string, unknown> = web): Record<string, unknown> {
  return { ...base, spec: { ...(base.spec as object), ...patch } };
}

function rejection(raw: unknown): string {
  const result = validateService(raw);
  if (result.ok) throw new Error('expected a rejection');
  return result.error.message;
}

describe('Service validation', () => {
  it('turns a valid Service into one port each, with derived kernel ids', () => {
    const result = validateService(web);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.name).toBe('default/web');
    expect(result.value.ports.map((port) => [port.key, port.protocol, port.port, port.targetPort])).toEqual([
      ['default/web:http/TCP', 'TCP', 80, 'http-alt'],
      ['default/web:dns/UDP', 'UDP', 53, 53],
    ]);
    const ids = result.value.ports.map((port) => port.id);
    expect(ids.every((id) => /^[A-Z2-7]{16}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect(result.value.ports[0]!.clusterIPs).toEqual(['10.96.0.10', 'fd00::a']);
  });

  it('reads every proxy feature', () => {
    const raw = serviceObject('lb', {
      namespace: 'shop', type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], ports: [{ port: 443, nodePort: 30443 }],
      externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'], loadBalancerSourceRanges: ['203.0.113.77/24'],
      affinitySeconds: 600, externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', healthCheckNodePort: 32000,
      trafficDistribution: 'PreferClose',
    });
    const result = validateService(raw);
    if (!result.ok) throw result.error;
    expect(result.value.ports[0]).toMatchObject({
      key: 'shop/lb:443/TCP', type: 'LoadBalancer', nodePort: 30443, externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'],
      loadBalancerSourceRanges: ['203.0.113.0/24'], affinityTimeoutSeconds: 600, externalTrafficLocal: true,
      internalTrafficLocal: true, healthCheckNodePort: 32000, preferClose: true,
    });
  });

  it('gives headless and ExternalName Services no ports', () => {
    const headless = validateService(withSpec({ clusterIP: 'None', clusterIPs: ['None'] }));
    const external = validateService(withSpec({ type: 'ExternalName', clusterIP: undefined, clusterIPs: undefined }));
    expect(headless.ok && headless.value.ports).toEqual([]);
    expect(external.ok && external.value.ports).toEqual([]);
  });

  it.each([
    ['an invalid IP', withSpec({ clusterIP: '10.96.0.300', clusterIPs: ['10.96.0.300'] }), 'Service default/web: spec.clusterIP'],
    ['a port out of range', withSpec({ ports: [{ name: 'http', port: 70000 }] }), 'Service default/web: spec.ports[0].port: must be 1..65535'],
    ['an unknown protocol', withSpec({ ports: [{ name: 'http', port: 80, protocol: 'ICMP' }] }), 'spec.ports[0].protocol'],
    ['an oversize name', { ...web, metadata: { name: 'a'.repeat(64), namespace: 'default' } }, 'metadata.name'],
    ['rule text in a name', { ...web, metadata: { name: 'web; flush ruleset', namespace: 'default' } }, 'Service default/web; flush ruleset: metadata.name'],
    ['rule text in a port name', withSpec({ ports: [{ name: 'http } accept', port: 80 }] }), 'spec.ports[0].name'],
    ['rule text in a namespace', { ...web, metadata: { name: 'web', namespace: 'x" counter' } }, 'metadata.namespace'],
    ['an invalid external IP', withSpec({ externalIPs: ['1.2.3.4 drop'] }), 'spec.externalIPs[0]'],
    ['an invalid source range', withSpec({ loadBalancerSourceRanges: ['10.0.0.0/33'] }), 'spec.loadBalancerSourceRanges[0]'],
    ['a duplicate port name', withSpec({ ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] }), 'spec.ports[1].name: duplicate'],
    ['a NodePort without nodePort', withSpec({ type: 'NodePort', ports: [{ port: 80 }] }), 'spec.ports[0].nodePort: required'],
    ['a missing cluster IP', withSpec({ clusterIP: undefined, clusterIPs: undefined }), 'spec.clusterIP: required'],
    ['an IPv4-mapped IPv6 address', withSpec({ clusterIP: '::ffff:10.0.0.1', clusterIPs: ['::ffff:10.0.0.1'] }), 'invalid IP address'],
    ['an affinity timeout out of range', withSpec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 90000 } } }), 'timeoutSeconds'],
  ])('rejects %s, naming the object and the field', (_, raw, message) => {
    expect(rejection(raw)).toContain(message);
  });
});

describe('EndpointSlice validation', () => {
  const slice = endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.1.0.5', nodeName: 'node-a', zone: 'z1', hintZones: ['z1'] }, { ip: '10.1.0.6', ready: false, serving: true, terminating: true }] });

  it('reads endpoints, conditions, topology and ports', () => {
    const result = validateEndpointSlice({ ...slice, metadata: { ...(slice.metadata as object), annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-02T03:04:05Z' } } });
    if (!result.ok) throw result.error;
    expect(result.value).toMatchObject({ key: 'default/web-ipv4', service: 'default/web', family: 4, ports: [{ name: 'http', protocol: 'TCP', port: 8080 }], triggerTime: Date.parse('2026-01-02T03:04:05Z') });
    expect(result.value.endpoints).toEqual([
      { ip: '10.1.0.5', ready: true, serving: true, terminating: false, nodeName: 'node-a', zone: 'z1', hintZones: ['z1'] },
      { ip: '10.1.0.6', ready: false, serving: true, terminating: true, nodeName: null, zone: null, hintZones: null },
    ]);
  });

  it('treats missing conditions as ready, and never counts a terminating endpoint as ready', () => {
    const raw = { ...slice, endpoints: [{ addresses: ['10.1.0.7'] }, { addresses: ['10.1.0.8'], conditions: { ready: true, terminating: true } }] };
    const result = validateEndpointSlice(raw);
    if (!result.ok) throw result.error;
    expect(result.value.endpoints.map((endpoint) => endpoint.ready)).toEqual([true, false]);
  });

  it.each([
    ['an address of the wrong family', { ...slice, addressType: 'IPv6' }, 'EndpointSlice default/web-ipv4: endpoints[0].addresses[0]: invalid IPv6 address'],
    ['a port out of range', { ...slice, ports: [{ name: 'http', port: 0 }] }, 'ports[0].port: must be 1..65535'],
    ['a missing service label', { ...slice, metadata: { name: 's', namespace: 'default', labels: {} } }, 'metadata.labels'],
    ['rule text in the service label', { ...slice, metadata: { name: 's', namespace: 'default', labels: { 'kubernetes.io/service-name': 'a b' } } }, 'metadata.labels["kubernetes.io/service-name"]'],
    ['rule text in a zone', { ...slice, endpoints: [{ addresses: ['10.1.0.5'], zone: 'z1 } accept' }] }, 'endpoints[0].zone'],
  ])('rejects %s', (_, raw, message) => {
    const result = validateEndpointSlice(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain(message);
  });

  it('ignores FQDN slices', () => {
    const result = validateEndpointSlice({ ...slice, addressType: 'FQDN', endpoints: [{ addresses: ['example.com'] }] });
    expect(result.ok && result.value).toMatchObject({ family: null, endpoints: [] });
  });
});

describe('Node validation', () => {
  it('reads the zone and eligibility', () => {
    const node = { kind: 'Node', metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' } }, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.2' }, { type: 'Hostname', address: 'node-a' }] } };
    const result = validateNode(node);
    expect(result.ok && result.value).toEqual({ name: 'node-a', zone: 'z1', addresses: ['192.168.0.2'], eligible: false });
  });
});
