import { describe, expect, it } from 'vitest';
import { ContainerModule, TOKENS, inject, injectable, type DataplaneBackend, type Executor, type SyncRequest } from '../../src/index.js';
import { FEATURES } from '../../src/index.js';
import { BATCHES_KEPT, SYNCS_KEPT, TEXT_KEPT } from '../../src/debug/sync-recorder.js';
import { startProxyServers } from '../../src/health/proxy-servers.js';
import { endpointSliceObject, FakeExecutor, serviceObject, testProxy, upsert } from '../../src/testing/index.js';

/** Writes one batch per changed port (its key, padded to `size`), through the injected executor. */
@injectable()
class BatchBackend implements DataplaneBackend {
  readonly name = 'batch';
  readonly description = 'one batch per changed port';
  readonly features = new Set(FEATURES);
  readonly usesConntrack = false;
  static size = 10;
  static batches = 1;

  constructor(@inject(TOKENS.Executor) private readonly executor: Executor) {}

  async init(): Promise<void> {}

  async sync({ changed }: SyncRequest): Promise<void> {
    for (let i = 0; i < BatchBackend.batches; i++) {
      for (const key of changed) await this.executor.apply({ tool: 'tool', args: ['-f', '-'], input: key.padEnd(BatchBackend.size, '.') });
    }
  }

  async activeConnections(): Promise<ReadonlyMap<string, number>> {
    return new Map();
  }

  async cleanup(): Promise<void> {}
}

const plugin = new ContainerModule(({ bind }) => void bind(TOKENS.Backend).to(BatchBackend));

function shop(version: number) {
  return [
    upsert(serviceObject('web', { namespace: 'shop', clusterIPs: ['10.96.0.1'], ports: [{ name: 'http', port: 80, nodePort: 30080 }], type: 'NodePort' })),
    upsert(endpointSliceObject('web', {
      namespace: 'shop',
      ports: [{ name: 'http', port: 8080 }],
      endpoints: [{ ip: `10.1.0.${version}`, nodeName: 'node-a' }, { ip: '10.1.0.9', ready: false, serving: true, terminating: true }],
    })),
  ];
}

describe('the debug endpoint', () => {
  it('keeps the last syncs with their batches (text truncated, with its length), exit status and stderr of a failure', async () => {
    BatchBackend.size = TEXT_KEPT + 500;
    BatchBackend.batches = 1;
    const executor = new FakeExecutor();
    const proxy = testProxy(plugin, { executor });
    await proxy.start(shop(1));
    executor.failNext(undefined, undefined);
    proxy.engine.handle(shop(2));
    expect(await proxy.engine.sync()).toBe(false);
    const [failed, first] = proxy.debug.syncs().syncs;
    expect(first).toMatchObject({ full: true, changed: 1, ok: true, batchesDropped: 0 });
    expect(first!.batches).toEqual([{ command: 'tool -f -', text: 'shop/web:http/TCP'.padEnd(TEXT_KEPT, '.'), length: TEXT_KEPT + 500, ms: 0, exitStatus: 0 }]);
    expect(failed).toMatchObject({ ok: false, error: 'tool failed (exit 1): injected failure' });
    expect(failed!.batches).toEqual([expect.objectContaining({ exitStatus: 1, stderr: 'injected failure' })]);
    // What was written is unchanged by the recording: the whole input reached the executor.
    expect(executor.batches[0]!.input).toHaveLength(TEXT_KEPT + 500);
  });

  it('is bounded: SYNCS_KEPT syncs, BATCHES_KEPT batches each, the rest counted', async () => {
    BatchBackend.size = 10;
    BatchBackend.batches = BATCHES_KEPT + 3;
    const proxy = testProxy(plugin);
    await proxy.start(shop(1));
    for (let version = 2; version < SYNCS_KEPT + 10; version++) await proxy.sync(shop(version));
    const { syncs } = proxy.debug.syncs();
    expect(syncs).toHaveLength(SYNCS_KEPT);
    expect(syncs[0]!.batches).toHaveLength(BATCHES_KEPT);
    expect(syncs[0]!.batchesDropped).toBe(3);
    expect(syncs.every((sync) => !sync.full)).toBe(true);
  });

  it('serves /debug/sync, /debug/services and /debug/services/NAMESPACE/NAME as JSON on the metrics listener', async () => {
    BatchBackend.batches = 1;
    const proxy = testProxy(plugin);
    await proxy.start(shop(1));
    const servers = await startProxyServers({ metrics: '127.0.0.1:0', healthz: '' }, proxy.engine.health, proxy.metrics, proxy.debug);
    const get = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${servers.metricsPort}${path}`);
      return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as Record<string, unknown> };
    };
    try {
      const sync = await get('/debug/sync');
      expect(sync.type).toBe('application/json');
      expect(sync.body).toMatchObject({ kept: SYNCS_KEPT, syncs: [{ full: true, ok: true }] });
      expect((await get('/debug/services')).body).toMatchObject({
        lastSyncOk: true,
        ports: [{ key: 'shop/web:http/TCP', type: 'NodePort', frontends: ['cluster 10.96.0.1:80/TCP', 'node-port 30080/TCP'], endpoints: { internal: ['10.1.0.1:8080'], external: ['10.1.0.1:8080'], draining: [] } }],
      });
      const explained = await get('/debug/services/shop/web');
      expect(explained.status).toBe(200);
      expect(explained.body).toMatchObject({ service: 'shop/web', accepted: true, refused: null, leftOut: [], healthCheckNodePort: null });
      expect((explained.body.ports as { endpoints: unknown[] }[])[0]!.endpoints).toEqual([
        expect.objectContaining({ address: '10.1.0.1:8080', ready: true, internal: true, external: true }),
        expect.objectContaining({ address: '10.1.0.9:8080', ready: false, serving: true, terminating: true, internal: false }),
      ]);
      expect((await get('/debug/services/shop/none')).status).toBe(404);
      expect((await get('/debug/services/%E0%A4%A')).status).toBe(404);
      expect((await get('/debug/sync')).status).toBe(200);
    } finally {
      await servers.stop();
    }
  });

  it('explains a Service: refused whole (the last valid version stays), ports left out, selection, its healthCheckNodePort answer', async () => {
    BatchBackend.batches = 1;
    const proxy = testProxy(plugin);
    const edge = (clusterIP: string) => upsert(serviceObject('edge', {
      namespace: 'shop', clusterIPs: [clusterIP], type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000,
      loadBalancerIPs: ['203.0.113.7'], ports: [{ name: 'http', port: 80, nodePort: 30090 }, { name: 'bad', port: 81, protocol: 'ICMP' as 'TCP', nodePort: 30091 }],
    }));
    await proxy.start([edge('10.96.0.2'), upsert(endpointSliceObject('edge', { namespace: 'shop', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.1.0.3', nodeName: 'node-a' }, { ip: '10.1.0.4', nodeName: 'node-b' }] }))]);
    let explained = proxy.debug.explain('shop/edge')!;
    expect(explained.accepted).toBe(true);
    expect(explained.leftOut).toEqual([expect.stringContaining('spec.ports[1]')]);
    expect(explained.ports[0]!.selection).toEqual({
      internal: 'internalTrafficPolicy Cluster; 2 ready endpoints',
      external: 'externalTrafficPolicy Local: this node\'s endpoints; 1 ready endpoint',
    });
    expect(explained.ports[0]!.lastChanged).not.toBeNull();
    expect(explained.healthCheckNodePort).toEqual({ port: 32000, status: 200, body: { service: { namespace: 'shop', name: 'edge' }, localEndpoints: 1, serviceProxyHealthy: true } });
    await proxy.sync([edge('not-an-ip')]);
    explained = proxy.debug.explain('shop/edge')!;
    expect(explained.accepted).toBe(false);
    expect(explained.refused).toMatch(/^Service shop\/edge: spec\.clusterIPs/);
    expect(explained.ports[0]!.frontends).toContain('cluster 10.96.0.2:80/TCP');
    await proxy.sync([edge('10.96.0.2')]);
    expect(proxy.debug.explain('shop/edge')!.accepted).toBe(true);
  });
});
