import { createInterface } from 'node:readline';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { KubeConfig, ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { service } from './harness.js';

const servers: FakeApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function start(options: Parameters<typeof FakeApiServer.start>[0] = {}) {
  const server = await FakeApiServer.start(options);
  servers.push(server);
  return server;
}

interface List { metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number }; items: { metadata: { name: string } }[] }

async function get<T>(server: FakeApiServer, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(server.url + path);
  return { status: response.status, body: await response.json() as T };
}

/** Opens a watch and collects its events until `stop()`. */
async function watch(server: FakeApiServer, query: string) {
  const events: { type: string; object: { kind?: string; code?: number; metadata: { name?: string; resourceVersion: string } } }[] = [];
  let ended = false;
  const request = httpGet(`${server.url}/api/v1/services?watch=true&${query}`);
  request.on('error', () => {});
  const response = await new Promise<IncomingMessage>((resolve) => request.on('response', resolve));
  response.on('error', () => {});
  const lines = createInterface(response);
  lines.on('line', (line) => events.push(JSON.parse(line) as (typeof events)[number]));
  lines.on('close', () => (ended = true));
  lines.on('error', () => {});
  return { status: response.statusCode, events, ended: () => ended, stop: () => request.destroy() };
}

/** The chunk sizes of a chunked HTTP response, read off the wire until `count` chunks arrived. */
async function rawChunkSizes(server: FakeApiServer, path: string, count: number, whileOpen: () => void): Promise<number[]> {
  const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: fake\r\n\r\n`);
  let raw = '';
  socket.on('data', (data: Buffer) => (raw += data.toString('latin1')));
  await vi.waitFor(() => expect(raw).toContain('\r\n\r\n'));
  whileOpen();
  const sizes = () => {
    const result: number[] = [];
    let rest = raw.slice(raw.indexOf('\r\n\r\n') + 4);
    for (let match = /^([0-9a-f]+)\r\n/.exec(rest); match; match = /^([0-9a-f]+)\r\n/.exec(rest)) {
      const size = parseInt(match[1]!, 16);
      if (rest.length < match[0].length + size + 2) break;
      result.push(size);
      rest = rest.slice(match[0].length + size + 2);
    }
    return result;
  };
  await vi.waitFor(() => expect(sizes().length).toBeGreaterThanOrEqual(count));
  socket.destroy();
  return sizes();
}

const names = (list: { items: { metadata: { name: string } }[] }) => list.items.map((item) => item.metadata.name);

describe('fake API server', () => {
  it('lists in pages from one consistent snapshot, whatever is written between the pages', async () => {
    const server = await start();
    for (const name of ['a', 'b', 'c', 'd', 'e']) server.apply(service(name, '10.96.0.1'));
    const first = await get<List>(server, '/api/v1/services?limit=2');
    expect(names(first.body)).toEqual(['a', 'b']);
    expect(first.body.metadata.remainingItemCount).toBe(3);
    server.delete('Service', 'default/c');
    server.apply(service('f', '10.96.0.1'));
    const second = await get<List>(server, `/api/v1/services?limit=2&continue=${first.body.metadata.continue}`);
    const third = await get<List>(server, `/api/v1/services?limit=2&continue=${second.body.metadata.continue}`);
    expect([...names(second.body), ...names(third.body)]).toEqual(['c', 'd', 'e']);
    expect(third.body.metadata.continue).toBeUndefined();
    expect(second.body.metadata.resourceVersion).toBe(first.body.metadata.resourceVersion);
    expect(names((await get<List>(server, '/api/v1/services')).body)).toEqual(['a', 'b', 'd', 'e', 'f']);
    server.compact();
    expect((await get(server, `/api/v1/services?limit=2&continue=${first.body.metadata.continue}`)).status).toBe(410);
  });

  it('replays a watch from a resourceVersion, then streams; translates label selector transitions', async () => {
    const server = await start();
    const a = server.apply(service('a', '10.96.0.1'));
    server.apply(service('b', '10.96.0.2', { tier: 'back' }));
    const stream = await watch(server, `resourceVersion=${a.metadata.resourceVersion}&labelSelector=!tier`);
    server.apply(service('a', '10.96.0.1', { tier: 'front' }));
    server.apply(service('b', '10.96.0.2'));
    server.delete('Service', 'default/b');
    await vi.waitFor(() => expect(stream.events).toHaveLength(3));
    expect(stream.events.map((event) => `${event.type} ${event.object.metadata.name}`)).toEqual(['DELETED a', 'ADDED b', 'DELETED b']);
    expect(stream.events.every((event) => event.object.kind === 'Service')).toBe(true);
    const versions = stream.events.map((event) => Number(event.object.metadata.resourceVersion));
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    stream.stop();
  });

  it('sends bookmarks only to watches that ask', async () => {
    const server = await start();
    const withBookmarks = await watch(server, 'resourceVersion=1000&allowWatchBookmarks=true');
    const without = await watch(server, 'resourceVersion=1000');
    server.apply(service('a', '10.96.0.1'));
    server.bookmark();
    await vi.waitFor(() => expect(withBookmarks.events.map((event) => event.type)).toEqual(['ADDED', 'BOOKMARK']));
    expect(withBookmarks.events[1]!.object.metadata.resourceVersion).toBe(String(server.store.resourceVersion));
    await vi.waitFor(() => expect(without.events.map((event) => event.type)).toEqual(['ADDED']));
    withBookmarks.stop();
    without.stop();
  });

  it('streams a WatchList (sendInitialEvents): the current state, whatever the resourceVersion, then the initial-events-end bookmark, then changes', async () => {
    const server = await start();
    const a = server.apply(service('a', '10.96.0.1'));
    server.apply(service('b', '10.96.0.2'));
    server.delete('Service', 'default/b');
    const stream = await watch(server, `sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=${a.metadata.resourceVersion}`);
    server.apply(service('c', '10.96.0.3'));
    await vi.waitFor(() => expect(stream.events).toHaveLength(3));
    expect(stream.events.map((event) => `${event.type} ${event.object.metadata.name ?? ''}`)).toEqual(['ADDED a', 'BOOKMARK ', 'ADDED c']);
    const bookmark = stream.events[1]!.object as { metadata: { resourceVersion: string; annotations?: Record<string, string> } };
    expect(bookmark.metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    expect(Number(bookmark.metadata.resourceVersion)).toBe(Number(stream.events[2]!.object.metadata.resourceVersion) - 1);
    stream.stop();
  });

  it('streams a watch in HTTP chunks, split to the size it is told', async () => {
    const server = await start({ chunkSize: 5 });
    const sizes = await rawChunkSizes(server, '/api/v1/services?watch=true&resourceVersion=1000', 20, () => server.apply(service('a', '10.96.0.1')));
    expect(Math.max(...sizes)).toBe(5);
  });

  it('refuses a watch from before a compaction with 410, in the stream or as HTTP; ends watches at their timeout', async () => {
    const inStream = await start();
    inStream.apply(service('a', '10.96.0.1'));
    inStream.compact();
    const refused = await watch(inStream, 'resourceVersion=1000');
    await vi.waitFor(() => expect(refused.ended()).toBe(true));
    expect(refused.status).toBe(200);
    expect(refused.events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
    const http = await start({ expiredWatch: 'status' });
    http.apply(service('a', '10.96.0.1'));
    http.compact();
    expect((await get(http, '/api/v1/services?watch=true&resourceVersion=1000')).status).toBe(410);
    const timed = await watch(http, `resourceVersion=${http.store.resourceVersion}&timeoutSeconds=1`);
    await vi.waitFor(() => expect(timed.ended()).toBe(true), { timeout: 3000 });
  });

  it('checks bearer tokens, selectors and Events as the API server does', async () => {
    const server = await start({ token: 't' });
    expect((await get(server, '/api/v1/services')).status).toBe(401);
    const post = (event: Record<string, unknown>) => fetch(`${server.url}/apis/events.k8s.io/v1/namespaces/default/events`, {
      method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify(event),
    });
    const event = {
      metadata: { generateName: 'web-', namespace: 'default' },
      eventTime: '2026-01-01T00:00:00.000000Z', type: 'Warning', reason: 'R', action: 'A', note: 'n',
      reportingController: 'kplane', reportingInstance: 'kplane-node-a', regarding: { kind: 'Service', name: 'web', namespace: 'default' },
    };
    expect((await post(event)).status).toBe(201);
    expect((await post({ ...event, eventTime: '2026-01-01T00:00:00.000Z' })).status).toBe(422);
    // kube-apiserver v1.37.2 answers 422 to a generateName ending in "." (only a trailing "-" is allowed).
    expect((await post({ ...event, metadata: { generateName: 'web.', namespace: 'default' } })).status).toBe(422);
    expect((await post({ ...event, regarding: { kind: 'Service', name: 'web', namespace: 'other' } })).status).toBe(422);
    expect(server.objects('Event')).toHaveLength(1);
    const bad = await fetch(`${server.url}/api/v1/services?labelSelector=${encodeURIComponent('a in (b')}`, { headers: { authorization: 'Bearer t' } });
    expect(bad.status).toBe(400);
  });

  it('makes client-node\'s informer behave as observed against an API server (TOOLCHAIN.md)', async () => {
    const server = await start();
    server.apply(service('a', '10.96.0.1'));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.writeKubeconfig());
    const list = async () => (await get<{ metadata: { resourceVersion: string }; items: KubernetesObject[] }>(server, '/api/v1/services')).body;
    const informer = new ListWatch<KubernetesObject>('/api/v1/services', new Watch(kubeConfig), list, false);
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (object) => seen.push(`add ${object.metadata!.name}`));
    informer.on('delete', (object) => seen.push(`delete ${object.metadata!.name}`));
    informer.on('error', (error: unknown) => errors.push(error));
    await informer.start();
    expect(seen).toEqual(['add a']);
    // A dropped connection: `error`, and the informer stops watching.
    server.dropWatches();
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    server.apply(service('b', '10.96.0.2'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen).toEqual(['add a']);
    expect(server.openWatches()).toBe(0);
    // Started again, it resumes from its resourceVersion; after 410 it re-lists and reports what vanished.
    await informer.start();
    await vi.waitFor(() => expect(seen).toEqual(['add a', 'add b']));
    await server.pause();
    server.delete('Service', 'default/a');
    server.compact();
    await server.resume();
    await vi.waitFor(() => expect(errors).toHaveLength(2));
    await informer.start();
    await vi.waitFor(() => expect(seen).toEqual(['add a', 'add b', 'delete a']));
    await informer.stop();
  });
});
