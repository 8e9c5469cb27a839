import { describe, expect, it } from 'vitest';
import { validateEndpointSlice, validateNode, validateService } from '../src/validation/validate.js';
import { endpointSliceObject, serviceObject } from '../src/testing/index.js';

const web = serviceObject('web', { clusterIPs: ['10.96.0.10', 'fd00::a'], ports: [{ name: 'http', port: 80, targetPort: 'http-alt' }, { name: 'dns', port: 53, protocol: 'UDP' }] });

function withSpec(patch: Record<string, unknown>, base: Record<string, unknown> = web): Record<string, unknown> {
  return { ...base, spec: { ...(base.spec as object), ...patch } };
}

function accepted(raw: unknown, origin: 'api-server' | 'manifest' = 'api-server') {
  const result = validateService(raw, origin);
  if (!result.ok) throw result.error;
  return result.value;
}

function rejection(raw: unknown, origin: 'api-server' | 'manifest' = 'api-server'): string {
  const result = validateService(raw, origin);
  if (result.ok) throw new Error('expected a rejection');
  return result.error.message;
}

describe('Service validation', () => {
  it('turns a valid Service into one port each, with derived kernel ids', () => {
    const service = accepted(web);
    expect(service.name).toBe('default/web');
    expect(service.ports.map((port) => [port.key, port.protocol, port.port, port.targetPort])).toEqual([
      ['default/web:http/TCP', 'TCP', 80, 'http-alt'],
      ['default/web:dns/UDP', 'UDP', 53, 53],
    ]);
    const ids = service.ports.map((port) => port.id);
    expect(ids.every((id) => /^[A-Z2-7]{16}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(2);
    expect(service.ports[0]!.clusterIPs).toEqual(['10.96.0.10', 'fd00::a']);
    expect(service.skipped).toEqual([]);
  });

  it('reads every proxy feature', () => {
    const raw = serviceObject('lb', {
      namespace: 'shop', type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], ports: [{ port: 443, nodePort: 30443 }],
      externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'], loadBalancerSourceRanges: ['203.0.113.77/24'],
      affinitySeconds: 600, externalTrafficPolicy: 'Local', internalTrafficPolicy: 'Local', healthCheckNodePort: 32000,
      trafficDistribution: 'PreferClose',
    });
    expect(accepted(raw).ports[0]).toMatchObject({
      key: 'shop/lb:443/TCP', type: 'LoadBalancer', nodePort: 30443, externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.7'],
      loadBalancerSourceRanges: ['203.0.113.0/24'], affinityTimeoutSeconds: 600, externalTrafficLocal: true,
      internalTrafficLocal: true, healthCheckNodePort: 32000, trafficDistribution: 'PreferSameZone',
    });
  });

  it('programs each frontend address once: repeats go, and an address both external and balanced stays a load-balancer IP', () => {
    const raw = serviceObject('lb', {
      type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], ports: [{ port: 80, nodePort: 30080 }],
      externalIPs: ['192.0.2.1', '192.0.2.1', '192.0.2.2', '198.51.100.7'], loadBalancerIPs: ['198.51.100.7', '198.51.100.7'],
    });
    expect(accepted(raw).ports[0]).toMatchObject({ externalIPs: ['192.0.2.1', '192.0.2.2'], loadBalancerIPs: ['198.51.100.7'] });
  });

  it('keeps only the outermost of nested or repeated source ranges (an interval set refuses overlaps)', () => {
    const raw = serviceObject('lb', {
      type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], ports: [{ port: 80, nodePort: 30080 }], loadBalancerIPs: ['198.51.100.7'],
      loadBalancerSourceRanges: ['10.1.0.0/16', '0.0.0.0/0', '10.0.0.0/8', '10.0.0.0/8', 'fd00::/64', 'fd00::/8', '192.0.2.0/24'],
    });
    expect(accepted(raw).ports[0]!.loadBalancerSourceRanges).toEqual(['0.0.0.0/0', 'fd00::/8']);
  });

  it.each([
    ['PreferClose', 'PreferSameZone'], ['PreferSameZone', 'PreferSameZone'], ['PreferSameNode', 'PreferSameNode'], ['SomeFutureValue', null],
  ])('reads trafficDistribution %s as %s', (value, expected) => {
    expect(accepted(withSpec({ trafficDistribution: value })).ports[0]!.trafficDistribution).toBe(expected);
  });

  it('gives headless and ExternalName Services no ports', () => {
    expect(accepted(withSpec({ clusterIP: 'None', clusterIPs: ['None'] })).ports).toEqual([]);
    expect(accepted(withSpec({ type: 'ExternalName', clusterIP: undefined, clusterIPs: undefined, externalName: 'db.example.com' })).ports).toEqual([]);
  });

  // Issue 13: the usual single-port Service, `name: ""`, was refused ("must be a DNS-1123 label").
  it('takes an empty port name on a single-port Service', () => {
    const service = accepted(withSpec({ ports: [{ name: '', port: 80, protocol: 'TCP' }] }), 'manifest');
    expect(service.ports.map((port) => [port.key, port.portName])).toEqual([['default/web:80/TCP', '']]);
  });

  // Issue 13: a LoadBalancer without node ports was refused ("nodePort: required for type LoadBalancer").
  it('takes a LoadBalancer with allocateLoadBalancerNodePorts: false and no nodePort', () => {
    const raw = withSpec({
      type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, externalTrafficPolicy: 'Cluster',
      ports: [{ name: 'https', port: 443, protocol: 'TCP' }],
    });
    const service = accepted({ ...raw, status: { loadBalancer: { ingress: [{ ip: '198.51.100.9', ipMode: 'VIP' }] } } }, 'manifest');
    expect(service.ports[0]).toMatchObject({ nodePort: null, clusterIPs: ['10.96.0.10', 'fd00::a'], loadBalancerIPs: ['198.51.100.9'] });
  });

  // Issue 15: `protocol: null` was refused instead of taking the default.
  it.each([null, ''])('takes protocol %j as TCP, as the API server defaults it', (protocol) => {
    expect(accepted(withSpec({ ports: [{ port: 80, protocol }] }), 'manifest').ports[0]!.protocol).toBe('TCP');
  });

  // Issue 15: 80/TCP twice was accepted silently; the API server refuses it.
  it('leaves out a second port with the same port and protocol, keeping the first', () => {
    const service = accepted(withSpec({ ports: [{ name: 'a', port: 80 }, { name: 'b', port: 80 }, { name: 'c', port: 80, protocol: 'UDP' }] }));
    expect(service.ports.map((port) => port.portName)).toEqual(['a', 'c']);
    expect(service.skipped).toEqual([{ field: 'spec.ports[1]', detail: 'duplicate port 80/TCP' }]);
  });

  it.each([
    ['a port out of range', [{ name: 'ok', port: 81 }, { name: 'http', port: 70000 }], 'spec.ports[1].port', 'must be 1..65535'],
    ['an unknown protocol', [{ name: 'ok', port: 81 }, { name: 'http', port: 80, protocol: 'ICMP' }], 'spec.ports[1].protocol', ''],
    ['rule text in a port name', [{ name: 'ok', port: 81 }, { name: 'http } accept', port: 80 }], 'spec.ports[1].name', ''],
    ['a duplicate port name', [{ name: 'ok', port: 81 }, { name: 'ok', port: 80 }], 'spec.ports[1].name', 'duplicate port name "ok"'],
    ['an unnamed port among several', [{ name: 'ok', port: 81 }, { port: 80 }], 'spec.ports[1].name', 'required when the Service has several ports'],
    ['a bad target port', [{ name: 'ok', port: 81 }, { name: 'x', port: 80, targetPort: 'a--b' }], 'spec.ports[1].targetPort', ''],
    ['a port that is not an object', [{ name: 'ok', port: 81 }, 'eighty'], 'spec.ports[1]', ''],
  ])('leaves out %s alone, naming the field', (_, ports, field, detail) => {
    const service = accepted(withSpec({ ports }));
    expect(service.ports.map((port) => port.portName)).toEqual(['ok']);
    expect(service.skipped).toHaveLength(1);
    expect(service.skipped[0]!.field).toBe(field);
    expect(service.skipped[0]!.detail).toContain(detail);
  });

  it('leaves out a port whose node port another port of the protocol already has', () => {
    const service = accepted(withSpec({ type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30080 }, { name: 'b', port: 81, nodePort: 30080 }] }));
    expect(service.skipped).toEqual([{ field: 'spec.ports[1].nodePort', detail: 'duplicate node port 30080/TCP' }]);
  });

  it.each([
    ['an invalid IP', withSpec({ clusterIP: '10.96.0.300', clusterIPs: ['10.96.0.300'] }), 'Service default/web: spec.clusterIP'],
    ['an oversize name', { ...web, metadata: { name: 'a'.repeat(64), namespace: 'default' } }, 'metadata.name'],
    ['rule text in a name', { ...web, metadata: { name: 'web; flush ruleset', namespace: 'default' } }, 'Service default/web; flush ruleset: metadata.name'],
    ['rule text in a namespace', { ...web, metadata: { name: 'web', namespace: 'x" counter' } }, 'metadata.namespace'],
    ['an invalid external IP', withSpec({ externalIPs: ['1.2.3.4 drop'] }), 'spec.externalIPs[0]'],
    ['a loopback external IP', withSpec({ externalIPs: ['127.0.0.1'] }), 'spec.externalIPs[0]: may not be loopback'],
    ['an invalid source range', withSpec({ loadBalancerSourceRanges: ['10.0.0.0/33'] }), 'spec.loadBalancerSourceRanges[0]'],
    ['a missing cluster IP', withSpec({ clusterIP: undefined, clusterIPs: undefined }), 'spec.clusterIP: required'],
    ['an IPv4-mapped IPv6 address', withSpec({ clusterIP: '::ffff:10.0.0.1', clusterIPs: ['::ffff:10.0.0.1'] }), 'invalid IP address'],
    ['an affinity timeout out of range', withSpec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 90000 } } }), 'timeoutSeconds'],
    ['"None" with a second cluster IP', withSpec({ clusterIP: 'None', clusterIPs: ['None', '10.96.0.10'] }), '"None" must be the first and only value'],
  ])('rejects %s, naming the object and the field', (_, raw, message) => {
    expect(rejection(raw)).toContain(message);
  });

  it('takes a Service name that starts with a digit, as RelaxedServiceNameValidation (GA in 1.37) does', () => {
    expect(accepted({ ...web, metadata: { name: '1web', namespace: 'default' } }, 'manifest').name).toBe('default/1web');
  });

  it('ignores what a proxy does not use when the affinity is None (the API server drops its config)', () => {
    expect(accepted(withSpec({ sessionAffinity: 'None', sessionAffinityConfig: { clientIP: { timeoutSeconds: 90000 } } }), 'manifest').ports[0]!.affinityTimeoutSeconds).toBeNull();
  });

  it.each([
    ['two cluster IPs without an ipFamilyPolicy (it defaults to SingleStack)', withSpec({ ipFamilyPolicy: undefined }), 'spec.ipFamilyPolicy'],
    ['clusterIPs without clusterIP', withSpec({ clusterIP: undefined }), 'spec.clusterIPs: must be empty when spec.clusterIP is not set'],
    ['a nodePort on a ClusterIP Service', withSpec({ ports: [{ port: 80, nodePort: 30080 }] }), 'spec.ports[0].nodePort'],
    ['an unknown trafficDistribution', withSpec({ trafficDistribution: 'SomeFutureValue' }), 'spec.trafficDistribution'],
    ['externalTrafficPolicy on an internal Service', withSpec({ externalTrafficPolicy: 'Local' }), 'spec.externalTrafficPolicy'],
    ['SingleStack with two cluster IPs', withSpec({ ipFamilyPolicy: 'SingleStack' }), 'spec.ipFamilyPolicy'],
    ['ipFamilies that do not match the cluster IPs', withSpec({ ipFamilies: ['IPv6', 'IPv4'] }), 'spec.clusterIPs[0]'],
    ['no ports', withSpec({ ports: [] }), 'spec.ports: required'],
  ])('holds a manifest to the API server\'s create rules (%s) and takes it from an API server', (_, raw, message) => {
    expect(rejection(raw, 'manifest')).toContain(message);
    expect(validateService(raw, 'api-server').ok).toBe(true);
  });
});

describe('EndpointSlice validation', () => {
  const slice = endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.1.0.5', nodeName: 'node-a', zone: 'z1', hintZones: ['z1'] }, { ip: '10.1.0.6', ready: false, serving: true, terminating: true }] });

  function acceptedSlice(raw: unknown, origin: 'api-server' | 'manifest' = 'api-server') {
    const result = validateEndpointSlice(raw, origin);
    if (!result.ok) throw result.error;
    return result.value;
  }

  it('reads endpoints, conditions, topology and ports', () => {
    const value = acceptedSlice({ ...slice, metadata: { ...(slice.metadata as object), annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-02T03:04:05Z' } } });
    expect(value).toMatchObject({ key: 'default/web-ipv4', service: 'default/web', family: 4, ports: [{ name: 'http', protocol: 'TCP', port: 8080 }], triggerTime: Date.parse('2026-01-02T03:04:05Z'), skipped: [] });
    expect(value.endpoints).toEqual([
      { ip: '10.1.0.5', ready: true, serving: true, terminating: false, nodeName: 'node-a', zone: 'z1', hintZones: ['z1'], hintNodes: null },
      { ip: '10.1.0.6', ready: false, serving: true, terminating: true, nodeName: null, zone: null, hintZones: null, hintNodes: null },
    ]);
  });

  it('reads node hints, and takes empty hint lists as no hints (as kube-proxy counts them)', () => {
    const value = acceptedSlice({ ...slice, endpoints: [{ addresses: ['10.1.0.7'], hints: { forNodes: [{ name: 'node-a' }], forZones: [] } }] });
    expect(value.endpoints[0]).toMatchObject({ hintNodes: ['node-a'], hintZones: null });
  });

  it('treats missing conditions as ready, and never counts a terminating endpoint as ready', () => {
    const value = acceptedSlice({ ...slice, endpoints: [{ addresses: ['10.1.0.7'] }, { addresses: ['10.1.0.8'], conditions: { ready: true, terminating: true } }] });
    expect(value.endpoints.map((endpoint) => endpoint.ready)).toEqual([true, false]);
  });

  // Issue 13: `name: ""` and an absent protocol on a slice port are what the controller writes for a single-port Service.
  it('takes an unnamed slice port, defaulting its protocol to TCP', () => {
    expect(acceptedSlice({ ...slice, ports: [{ name: '', port: 8080, protocol: null }] }, 'manifest').ports).toEqual([{ name: '', protocol: 'TCP', port: 8080 }]);
  });

  it('takes any zone, which the API server leaves unchecked and kplane only compares', () => {
    expect(acceptedSlice({ ...slice, endpoints: [{ addresses: ['10.1.0.5'], zone: 'z1 } accept' }] }).endpoints[0]!.zone).toBe('z1 } accept');
  });

  it('takes a slice without a service label as serving no Service', () => {
    expect(acceptedSlice({ ...slice, metadata: { name: 's', namespace: 'default' } }).service).toBe('default/');
  });

  it.each([
    ['an address of the wrong family', { addresses: ['fd00::5'] }, 'endpoints[1].addresses[0]', 'invalid IPv4 address "fd00::5"'],
    ['a loopback address', { addresses: ['127.0.0.1'] }, 'endpoints[1].addresses[0]', 'may not be loopback'],
    ['no address', { addresses: [] }, 'endpoints[1].addresses', 'needs at least one address'],
    ['rule text in a node name', { addresses: ['10.1.0.9'], nodeName: 'a b' }, 'endpoints[1].nodeName', ''],
  ])('leaves out an endpoint with %s alone', (_, endpoint, field, detail) => {
    const value = acceptedSlice({ ...slice, endpoints: [{ addresses: ['10.1.0.5'] }, endpoint] });
    expect(value.endpoints.map((kept) => kept.ip)).toEqual(['10.1.0.5']);
    expect(value.skipped).toHaveLength(1);
    expect(value.skipped[0]!.field).toBe(field);
    expect(value.skipped[0]!.detail).toContain(detail);
  });

  it.each([
    ['a port out of range', { name: 'http', port: 0 }, 'ports[1].port'],
    ['an empty protocol', { name: 'http', port: 80, protocol: '' }, 'ports[1].protocol'],
    ['a duplicate name', { name: 'a', port: 81 }, 'ports[1].name'],
  ])('leaves out a slice port with %s alone', (_, port, field) => {
    const value = acceptedSlice({ ...slice, ports: [{ name: 'a', port: 80 }, port] });
    expect(value.ports.map((kept) => kept.port)).toEqual([80]);
    expect(value.skipped.map((part) => part.field)).toEqual([field]);
  });

  it.each([
    ['rule text in the service label', { ...slice, metadata: { name: 's', namespace: 'default', labels: { 'kubernetes.io/service-name': 'a b' } } }, 'metadata.labels["kubernetes.io/service-name"]'],
    ['an unknown address type', { ...slice, addressType: 'IP' }, 'addressType'],
  ])('rejects %s', (_, raw, message) => {
    const result = validateEndpointSlice(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toContain(message);
  });

  it.each([
    ['too many zone hints', { addresses: ['10.1.0.9'], hints: { forZones: Array.from({ length: 9 }, (_, index) => ({ name: `z${index}` })) } }, 'endpoints[0].hints.forZones'],
    ['a duplicate node hint', { addresses: ['10.1.0.9'], hints: { forNodes: [{ name: 'n' }, { name: 'n' }] } }, 'endpoints[0].hints.forNodes[1].name'],
    ['an invalid second address', { addresses: ['10.1.0.9', 'x'] }, 'endpoints[0].addresses[1]'],
  ])('holds a manifest slice to the API server\'s rules (%s) and takes it from an API server', (_, endpoint, field) => {
    const raw = { ...slice, endpoints: [endpoint] };
    const result = validateEndpointSlice(raw, 'manifest');
    expect(!result.ok && result.error.field).toBe(field);
    expect(validateEndpointSlice(raw, 'api-server').ok).toBe(true);
  });

  it('ignores FQDN slices', () => {
    expect(acceptedSlice({ ...slice, addressType: 'FQDN', endpoints: [{ addresses: ['example.com'] }] })).toMatchObject({ family: null, endpoints: [] });
  });
});

describe('Node validation', () => {
  it('reads the zone and eligibility', () => {
    const node = { kind: 'Node', metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' } }, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.2' }, { type: 'Hostname', address: 'node-a' }] } };
    const result = validateNode(node);
    expect(result.ok && result.value).toEqual({ name: 'node-a', zone: 'z1', addresses: ['192.168.0.2'], eligible: false });
  });
});
