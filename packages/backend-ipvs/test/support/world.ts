import { DEFAULT_CONFIG, DryRunExecutor, type Executor, type ProxyConfig } from '@kplane/core';
import { endpointSliceObject, serviceObject, testProxy, upsert } from '@kplane/core/testing';
import { FakeIpvsClient, ipvsModule } from '../../src/index.js';

/** The node every golden test plans for: two addresses for NodePorts, dual-stack cluster CIDRs. */
export const CONFIG: ProxyConfig = {
  ...DEFAULT_CONFIG,
  nodeName: 'node-a',
  nodeIPs: ['192.168.50.1', 'fd00:50::1'],
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
};

/** A proxy with the ipvs backend for Debian 12's kernel (6.1) on `executor`, on a fake clock. */
export function ipvsProxy<E extends Executor = DryRunExecutor>(executor: E = new DryRunExecutor() as Executor as E, config: Partial<ProxyConfig> = {}) {
  return testProxy(ipvsModule({ kernelRelease: '6.1.0-50-amd64' }), { config: { ...CONFIG, ...config }, executor });
}

export { upsert };

/** node-a's own interface, as the fake's `ip -o address show` lists it. */
export const NODE_INTERFACES = { eth0: ['192.168.50.1/24', 'fd00:50::1/64'] };

/** The ipvs backend on a FakeIpvsClient, driven by core's engine one sync at a time (`start`, then `sync`). */
export function fakeNode(config: Partial<ProxyConfig> = {}, fake = new FakeIpvsClient({ interfaces: NODE_INTERFACES })) {
  return { fake, ...testProxy(ipvsModule({ client: fake }), { config: { ...CONFIG, ...config } }) };
}

/** Pods on node-a (x.x.1.x) and another node (x.x.2.x). */
export const POD = { a: ['10.244.1.11', 'fd00:10:244:1::11'], b: ['10.244.1.12', 'fd00:10:244:1::12'], r: ['10.244.2.21', 'fd00:10:244:2::21'] } as const;

export function endpoints(service: string, pods: readonly (keyof typeof POD)[], options: { family?: 4 | 6; port?: number; protocol?: 'TCP' | 'UDP' | 'SCTP'; terminating?: readonly string[] } = {}) {
  const family = options.family ?? 4;
  return endpointSliceObject(service, {
    name: `${service}-${family}`,
    addressType: family === 4 ? 'IPv4' : 'IPv6',
    ports: [{ name: 'p', port: options.port ?? 8080, protocol: options.protocol ?? 'TCP' }],
    endpoints: pods.map((pod) => ({
      ip: POD[pod][family === 4 ? 0 : 1], nodeName: pod === 'r' ? 'node-b' : 'node-a',
      ...(options.terminating?.includes(pod) && { ready: false, serving: true, terminating: true }),
    })),
  });
}

/** One Service of every kind the backend programs. */
export function world(): Record<string, unknown>[] {
  return [
    serviceObject('web', { clusterIPs: ['10.96.0.10', 'fd00:10:96::10'], type: 'NodePort', ports: [{ name: 'p', port: 80, nodePort: 30080 }], affinitySeconds: 600 }),
    endpoints('web', ['a', 'b']),
    endpoints('web', ['a'], { family: 6 }),
    serviceObject('dns', { clusterIPs: ['10.96.0.53'], ports: [{ name: 'p', port: 53, protocol: 'UDP' }] }),
    endpoints('dns', ['a', 'r'], { port: 5353, protocol: 'UDP' }),
    serviceObject('ext', { clusterIPs: ['10.96.0.20'], externalIPs: ['192.0.2.10'], ports: [{ name: 'p', port: 80 }] }),
    endpoints('ext', ['b']),
    serviceObject('lb', {
      clusterIPs: ['10.96.0.30'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.10'], loadBalancerSourceRanges: ['192.168.50.0/24', '203.0.113.7/32'],
      ports: [{ name: 'p', port: 443, nodePort: 30443 }],
    }),
    endpoints('lb', ['a', 'b'], { port: 8443 }),
    serviceObject('edge', {
      clusterIPs: ['10.96.0.40'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.11'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32100,
      ports: [{ name: 'p', port: 80, nodePort: 30081 }],
    }),
    endpoints('edge', ['a', 'r']),
  ];
}

/** A signalling LoadBalancer with an SCTP port beside a TCP one (externalTrafficPolicy Local: the shortcut rules match SCTP too). */
export function sctpWorld(): Record<string, unknown>[] {
  return [
    serviceObject('sig', {
      clusterIPs: ['10.96.0.60', 'fd00:10:96::60'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.60'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32160,
      ports: [{ name: 'sctp', port: 3868, protocol: 'SCTP', nodePort: 30868 }, { name: 'tcp', port: 3869, nodePort: 30869 }],
    }),
    endpointSliceObject('sig', {
      name: 'sig-4',
      ports: [{ name: 'sctp', port: 3868, protocol: 'SCTP' }, { name: 'tcp', port: 3869 }],
      endpoints: [{ ip: POD.a[0], nodeName: 'node-a' }, { ip: POD.r[0], nodeName: 'node-b' }],
    }),
    endpointSliceObject('sig', {
      name: 'sig-6', addressType: 'IPv6',
      ports: [{ name: 'sctp', port: 3868, protocol: 'SCTP' }, { name: 'tcp', port: 3869 }],
      endpoints: [{ ip: POD.a[1], nodeName: 'node-a' }],
    }),
  ];
}

/** A dry-run proxy that has done its first (full) sync of `objects`; its batches are then cleared. */
export async function synced(objects: Record<string, unknown>[] = world(), config: Partial<ProxyConfig> = {}) {
  const proxy = ipvsProxy(new DryRunExecutor(), config);
  await proxy.start(objects.map(upsert));
  const full = proxy.executor.render();
  proxy.executor.batches.length = 0;
  return { ...proxy, full };
}
