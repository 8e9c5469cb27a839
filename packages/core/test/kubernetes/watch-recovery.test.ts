import { describe, expect, it, vi } from 'vitest';
import { type FakeApiServerOptions } from '../support/fake-api-server/index.js';
import { NODE, apiServer, nodeObject, service, slice, proxiesPerTest } from './harness.js';

const { start: startProxy } = proxiesPerTest();

const RESOURCES = ['services', 'endpointslices', 'nodes'] as const;
const key = (index: number) => `default/svc-${index}:http/TCP`;
const endpoint = (index: number, host = 1) => `10.1.${index}.${host}`;

/** A proxy synced with `count` Services of one endpoint each. */
async function syncedProxy(count: number, serverOptions: FakeApiServerOptions = {}) {
  const server = await apiServer(serverOptions);
  server.apply(nodeObject(NODE));
  for (let index = 0; index < count; index++) {
    server.apply(service(`svc-${index}`, `10.96.0.${index + 1}`));
    server.apply(slice(`svc-${index}`, `svc-${index}-1`, [endpoint(index)]));
  }
  const proxy = await startProxy({ server });
  await proxy.started;
  await vi.waitFor(() => expect(Object.keys(proxy.lastSync()?.endpoints ?? {})).toHaveLength(count));
  return proxy;
}

const lists = (proxy: Awaited<ReturnType<typeof syncedProxy>>) => RESOURCES.map((resource) => proxy.requests('list', resource).length);

describe('KubernetesSource recovery', () => {
  it('restarts a dropped watch with backoff and resumes from its resourceVersion, without a re-list', async () => {
    const proxy = await syncedProxy(3);
    const { server, lastSync, requests } = proxy;
    const watchedFrom = Number(requests('watch', 'services')[0]!.query.resourceVersion);
    server.dropWatches();
    server.apply(service('svc-9', '10.96.0.99'));
    server.apply(slice('svc-9', 'svc-9-1', [endpoint(9)]));
    server.apply(slice('svc-0', 'svc-0-1', [endpoint(0), endpoint(0, 2)]));
    await vi.waitFor(() => expect(lastSync()?.endpoints).toMatchObject({
      [key(9)]: [`${endpoint(9)}:8080`],
      [key(0)]: [`${endpoint(0)}:8080`, `${endpoint(0, 2)}:8080`],
    }));
    expect(lists(proxy)).toEqual([1, 1, 1]);
    const resumedFrom = Number(requests('watch', 'services').at(-1)!.query.resourceVersion);
    expect(resumedFrom).toBeGreaterThanOrEqual(watchedFrom);
  });

  it('resumes a watch the server ended cleanly (its timeout) without a re-list', async () => {
    const proxy = await syncedProxy(2);
    proxy.server.closeWatches();
    await vi.waitFor(() => expect(proxy.requests('watch', 'services').length).toBe(2));
    proxy.server.apply(slice('svc-1', 'svc-1-1', [endpoint(1, 7)]));
    await vi.waitFor(() => expect(proxy.lastSync()?.endpoints[key(1)]).toEqual([`${endpoint(1, 7)}:8080`]));
    expect(lists(proxy)).toEqual([1, 1, 1]);
  });

  it.each([['an ERROR event in the stream', 'event'], ['HTTP 410', 'status']] as const)(
    'after missing changes past a compaction (410 Gone as %s), re-lists and converges without deleting what still exists',
    async (_, expiredWatch) => {
      const proxy = await syncedProxy(20, { expiredWatch });
      const { server, backend, engine, lastSync } = proxy;
      const before = backend.syncs.length;
      await server.pause();
      server.delete('Service', 'default/svc-3');
      server.delete('EndpointSlice', 'default/svc-3-1');
      server.apply(slice('svc-4', 'svc-4-1', [endpoint(4, 2)]));
      server.apply(service('svc-new', '10.96.1.1'));
      server.apply(slice('svc-new', 'svc-new-1', [endpoint(99)]));
      server.compact();
      await server.resume();
      await vi.waitFor(() => expect(lastSync()?.endpoints).toMatchObject({ [key(4)]: [`${endpoint(4, 2)}:8080`], 'default/svc-new:http/TCP': [`${endpoint(99)}:8080`] }));
      await vi.waitFor(() => expect(lastSync()?.endpoints[key(3)]).toBeUndefined());
      // Each informer reconnects on its own backoff; every one of them must have re-listed.
      await vi.waitFor(() => expect(lists(proxy)).toEqual([2, 2, 2]));
      expect(engine.desiredState.size).toBe(20);
      const after = backend.syncs.slice(before);
      expect(new Set(after.flatMap((sync) => sync.changed))).toEqual(new Set([key(3), key(4), 'default/svc-new:http/TCP']));
      for (const sync of after) {
        for (const index of [0, 1, 2, 5, 19]) expect(sync.endpoints[key(index)]).toEqual([`${endpoint(index)}:8080`]);
      }
    },
  );

  it('re-lists after a 410 in the middle of a live watch, and a re-list that finds nothing new changes nothing', async () => {
    const proxy = await syncedProxy(5);
    const { server, backend } = proxy;
    const before = backend.syncs.length;
    server.expireWatches();
    await vi.waitFor(() => expect(lists(proxy)).toEqual([2, 2, 2]));
    // Services, EndpointSlices, the Node and ServiceCIDRs.
    await vi.waitFor(() => expect(server.openWatches()).toBe(4));
    expect(backend.syncs.length).toBe(before);
    server.apply(slice('svc-2', 'svc-2-1', [endpoint(2, 5)]));
    await vi.waitFor(() => expect(proxy.lastSync()?.endpoints[key(2)]).toEqual([`${endpoint(2, 5)}:8080`]));
    expect(proxy.lastSync()?.changed).toEqual([key(2)]);
  });

  it('keeps the rules while the API server is unreachable, and catches up when it is back', async () => {
    const proxy = await syncedProxy(4);
    const { server, backend, engine, lastSync } = proxy;
    const before = backend.syncs.length;
    await server.pause();
    // Several failed reconnections (20 ms backoff doubling to 200 ms) while the server is away.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(backend.syncs.length).toBe(before);
    expect(engine.desiredState.size).toBe(4);
    await server.resume();
    server.apply(slice('svc-1', 'svc-1-1', [endpoint(1, 3)]));
    await vi.waitFor(() => expect(lastSync()?.endpoints[key(1)]).toEqual([`${endpoint(1, 3)}:8080`]));
    expect(Object.keys(lastSync()!.endpoints)).toHaveLength(4);
  });

  it.each([[true, 1], [false, 2]])(
    'with bookmarks (%s), a quiet watch resumes past a compaction without a re-list (Service lists: %i)',
    async (bookmark, serviceLists) => {
      const proxy = await syncedProxy(1);
      const { server, requests } = proxy;
      // Writes this watch never sees: Services of another proxy, filtered by the API server.
      for (let index = 0; index < 5; index++) server.apply(service(`theirs-${index}`, `10.96.2.${index}`, { 'service.kubernetes.io/service-proxy-name': 'other' }));
      if (bookmark) server.bookmark();
      const bookmarked = server.store.resourceVersion;
      server.compact();
      // Let the bookmark reach the client (loopback) before the connection drops.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const watchesBefore = requests('watch', 'services').length;
      server.dropWatches();
      await vi.waitFor(() => {
        expect(requests('watch', 'services').length).toBeGreaterThan(watchesBefore);
        expect(requests('list', 'services')).toHaveLength(serviceLists);
        expect(server.openWatches('services')).toBe(1);
      });
      if (bookmark) expect(requests('watch', 'services').at(-1)!.query.resourceVersion).toBe(String(bookmarked));
    },
  );

  it('reads watch events split across chunks and several to a chunk', async () => {
    const proxy = await syncedProxy(2, { chunkSize: 7 });
    for (let index = 10; index < 30; index++) {
      proxy.server.apply(service(`svc-${index}`, `10.96.0.${index + 1}`));
      proxy.server.apply(slice(`svc-${index}`, `svc-${index}-1`, [endpoint(index)]));
    }
    // Services and slices come through two watches: wait for the last slice, not only the last Service.
    await vi.waitFor(() => {
      expect(Object.keys(proxy.lastSync()?.endpoints ?? {})).toHaveLength(22);
      expect(proxy.lastSync()?.endpoints[key(29)]).toEqual([`${endpoint(29)}:8080`]);
    });
  });
});
