import nft from '@kplane/backend-nft';
import { SANDBOX_NETWORK, Sandbox, type NamespaceAgent } from '@kplane/conformance/sandbox';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_CONFIG, createLogger, createProxy, type Proxy } from '../../src/index.js';
import { KubernetesSource } from '../../src/kubernetes.js';
import { endpointSliceObject, serviceObject } from '../../src/testing/index.js';
import { FakeApiServer } from '../support/fake-api-server/index.js';

/**
 * The whole path, as the agent runs it: the fake API server → KubernetesSource (client-node
 * informers) → engine → nft backend → the kernel of a sandbox node namespace, checked with real
 * connections from a pod namespace. Needs root.
 */
describe('end to end: API server changes reach kernel rules and traffic (nft)', () => {
  let sandbox: Sandbox;
  let server: FakeApiServer;
  let proxy: Proxy;
  let source: KubernetesSource;

  const web = serviceObject('web', { clusterIPs: ['10.96.7.1'], ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
  const api = serviceObject('api', { clusterIPs: ['10.96.7.2'], ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
  const slice = (service: string, name: string, pods: readonly string[]) => endpointSliceObject(service, {
    name,
    ports: [{ name: 'http', port: 8080 }],
    endpoints: pods.map((pod) => ({ ip: sandbox.pod(pod).ipv4, nodeName: sandbox.pod(pod).nodeName })),
  });

  /** The pods that answer 12 connections to `ip`:80 from the client pod (throws on a failed connection). */
  async function answering(ip: string, from: NamespaceAgent = sandbox.client): Promise<string[]> {
    const pods = new Set<string>();
    for (let attempt = 0; attempt < 12; attempt++) {
      const result = await from.tcp(ip, 80);
      if (!result.ok) throw new Error(`${ip}:80: ${result.error}`);
      pods.add(result.answer.pod);
    }
    return [...pods].sort();
  }

  beforeAll(async () => {
    sandbox = await Sandbox.create();
    server = await FakeApiServer.start({ token: 'e2e', chunkSize: 64 });
    server.apply({ kind: 'Node', metadata: { name: SANDBOX_NETWORK.nodeName }, status: { addresses: [{ type: 'InternalIP', address: SANDBOX_NETWORK.nodeIPs[0] }] } });
    server.apply(web);
    server.apply(slice('web', 'web-1', ['a']));
    server.apply(slice('web', 'web-2', ['b']));
    server.apply(api);
    server.apply(slice('api', 'api-1', ['c']));
    const logger = createLogger(process.env.KPLANE_LOG ?? 'silent');
    const config = {
      ...DEFAULT_CONFIG,
      nodeName: SANDBOX_NETWORK.nodeName,
      nodeIPs: SANDBOX_NETWORK.nodeIPs,
      clusterCIDRs: SANDBOX_NETWORK.clusterCIDRs,
      minSyncPeriodMs: 100,
    };
    proxy = createProxy({ config, executor: sandbox.executor, logger }, nft);
    source = new KubernetesSource({
      kubeconfig: server.writeKubeconfig(), qps: 50, burst: 100, nodeName: SANDBOX_NETWORK.nodeName, serviceProxyName: '', backoff: { initialMs: 50, maxMs: 500 },
    }, logger);
    // The CLI's order: the backend's init, the initial lists, then the sync loop.
    await proxy.backend.init();
    await source.start(proxy.engine.handle);
    proxy.engine.start();
  }, 120_000);

  afterAll(async () => {
    await source?.stop();
    await proxy?.engine.stop();
    await proxy?.backend.cleanup().catch(() => {});
    await server?.stop();
    await sandbox?.destroy();
  });

  it('programs the listed Services: the first sync sends traffic to the endpoints of every slice', async () => {
    await vi.waitFor(async () => expect(await answering('10.96.7.1')).toEqual(['a', 'b']), { timeout: 20_000, interval: 200 });
    expect(await answering('10.96.7.2')).toEqual(['c']);
  });

  it('follows a change on the server: the endpoints of one slice move', async () => {
    server.apply(slice('web', 'web-2', ['d']));
    await vi.waitFor(async () => expect(await answering('10.96.7.1')).toEqual(['a', 'd']), { timeout: 20_000, interval: 200 });
  });

  it('converges after missing changes past a compaction (410 Gone), never cutting a Service that still exists', async () => {
    await server.pause();
    server.delete('EndpointSlice', 'default/web-1');
    server.apply(slice('api', 'api-1', ['c', 'b']));
    server.compact();
    // The API server is away: the kernel keeps the last rules.
    expect(await answering('10.96.7.1')).toEqual(['a', 'd']);
    expect(await answering('10.96.7.2')).toEqual(['c']);
    await server.resume();
    await vi.waitFor(async () => {
      expect(await answering('10.96.7.1')).toEqual(['d']);
      expect(await answering('10.96.7.2')).toEqual(['b', 'c']);
    }, { timeout: 20_000, interval: 200 });
    expect(server.requests.filter((request) => request.verb === 'list' && request.resource === 'endpointslices').length).toBeGreaterThanOrEqual(2);
  });

  it('removes a deleted Service from the kernel, and leaves the rules in place when the agent stops', async () => {
    server.delete('Service', 'default/api');
    server.delete('EndpointSlice', 'default/api-1');
    await vi.waitFor(async () => expect((await sandbox.client.tcp('10.96.7.2', 80)).ok).toBe(false), { timeout: 20_000, interval: 200 });
    await source.stop();
    await proxy.engine.stop();
    expect(await answering('10.96.7.1')).toEqual(['d']);
  });
});
