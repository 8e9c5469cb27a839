import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ObjectStore, objectKey, type Change } from './object-store.js';
import { RESOURCES, apiVersion, resourceOfKind, type Resource } from './resources.js';
import { fieldSelector, labelSelector, SelectorError, type ApiObject, type Selector } from './selectors.js';
import { validateEvent } from './event-validation.js';
import { listenOnLoopback, writeLoopbackKubeconfig } from '../loopback.js';

export interface FakeApiServerOptions {
  /** Requests must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Splits every write to a watch stream into pieces of this many bytes, so events straddle chunks. */
  readonly chunkSize?: number;
  /**
   * How a watch from a compacted resourceVersion is refused: an ERROR event with a 410 Status in a
   * 200 stream (what the API server's watch cache does), or a plain HTTP 410.
   */
  readonly expiredWatch?: 'event' | 'status';
}

export type Verb = 'get' | 'list' | 'watch' | 'create';

export interface RecordedRequest {
  readonly verb: Verb;
  readonly resource: string;
  readonly query: Readonly<Record<string, string>>;
}

interface OpenWatch {
  readonly resource: Resource;
  readonly response: ServerResponse;
  readonly bookmarks: boolean;
}

interface Fault {
  readonly verb: Verb;
  readonly resource: string;
  readonly status: number;
  remaining: number;
}

/** The rest of a paginated list, served from the snapshot the first page was cut from. */
interface ListSnapshot {
  readonly items: readonly ApiObject[];
  readonly revision: number;
}

const PAGE_SIZE_LIMIT = 10_000;

/**
 * An in-process Kubernetes API server for the resources a proxy reads, faithful where clients can
 * tell: one resourceVersion sequence, consistent paginated lists (`limit`/`continue`), watches that
 * replay from a resourceVersion over a chunked stream, label and field selectors (an object that
 * stops matching is a DELETED event), bookmarks on request, 410 Gone after compaction, server-side
 * watch timeouts, WatchList streams (`sendInitialEvents=true`), bearer-token auth, and
 * events.k8s.io/v1 Event creation. Tests drive the faults:
 * dropped connections, in-stream expiry, unreachability, failing requests.
 */
export class FakeApiServer {
  readonly store = new ObjectStore();
  readonly requests: RecordedRequest[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<OpenWatch>();
  private readonly snapshots = new Map<string, ListSnapshot>();
  private readonly faults: Fault[] = [];
  private port = 0;

  private constructor(private readonly options: FakeApiServerOptions) {
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const server = new FakeApiServer(options);
    await server.listen();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig for this server (plain http, so TLS verification is off), in a new temporary directory. */
  writeKubeconfig(): string {
    return writeLoopbackKubeconfig('fake', this.url, this.options.token);
  }

  /** Creates or replaces an object, picking its resource from `kind`. */
  apply(object: Record<string, unknown>): ApiObject {
    return this.store.put(resourceOfKind(String(object.kind)), object as unknown as ApiObject);
  }

  /** Deletes `namespace/name` (or `name` for a Node); false when it did not exist. */
  delete(kind: string, key: string): boolean {
    return this.store.remove(resourceOfKind(kind), key) !== null;
  }

  /** The stored objects of a kind (Events, for instance). */
  objects(kind: string): ApiObject[] {
    return this.store.list(resourceOfKind(kind));
  }

  /** Open watch streams, of one resource or all. */
  openWatches(resource?: string): number {
    return [...this.watches].filter((watch) => !resource || watch.resource.name === resource).length;
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that asked for bookmarks. */
  bookmark(): void {
    for (const watch of this.watches) {
      if (!watch.bookmarks) continue;
      this.send(watch.response, [{
        type: 'BOOKMARK',
        object: { kind: watch.resource.kind, apiVersion: apiVersion(watch.resource), metadata: { resourceVersion: String(this.store.resourceVersion) } },
      }]);
    }
  }

  /** Forgets the history: watches from an older resourceVersion, and old continue tokens, get 410 Gone. */
  compact(): void {
    this.store.compact();
    for (const [token, snapshot] of this.snapshots) {
      if (snapshot.revision < this.store.compacted) this.snapshots.delete(token);
    }
  }

  /** Compacts, then ends every watch with an in-stream ERROR 410, as when a watcher falls too far behind. */
  expireWatches(): void {
    this.compact();
    for (const watch of this.watches) {
      this.send(watch.response, [{ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') }]);
      watch.response.end();
    }
  }

  /** Ends every watch cleanly, as the server does when `timeoutSeconds` runs out. */
  closeWatches(): void {
    for (const watch of this.watches) watch.response.end();
  }

  /** Cuts every watch connection without ending its stream, as a network failure does. */
  dropWatches(): void {
    for (const watch of this.watches) watch.response.socket?.destroy();
  }

  /** The next `count` requests of this verb and resource fail with `status`. */
  failNext(verb: Verb, resource: string, status: number, count = 1): void {
    this.faults.push({ verb, resource, status, remaining: count });
  }

  /** Forgets the failures still to come. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Stops listening and cuts every connection: the API server is unreachable until `resume()`. */
  async pause(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port, with the same objects. */
  async resume(): Promise<void> {
    await this.listen();
  }

  async stop(): Promise<void> {
    if (this.server.listening) await this.pause();
  }

  private async listen(): Promise<void> {
    this.port = await listenOnLoopback(this.server, this.port);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://fake');
    const route = parsePath(url.pathname);
    if (!route) return reply(response, 404, status(404, 'NotFound', `the server could not find the requested resource (${url.pathname})`));
    const query = Object.fromEntries(url.searchParams);
    const verb: Verb = request.method === 'POST' ? 'create' : route.name ? 'get' : query.watch === 'true' || query.watch === '1' ? 'watch' : 'list';
    this.requests.push({ verb, resource: route.resource.name, query });
    if (this.options.token && request.headers.authorization !== `Bearer ${this.options.token}`) {
      return reply(response, 401, status(401, 'Unauthorized', 'Unauthorized'));
    }
    const fault = this.faults.find((candidate) => candidate.verb === verb && candidate.resource === route.resource.name && candidate.remaining > 0);
    if (fault) {
      fault.remaining--;
      return reply(response, fault.status, status(fault.status, 'InternalError', 'injected failure'));
    }
    try {
      if (verb === 'create') return this.create(request, response, route.resource, route.namespace);
      if (verb === 'get') return this.get(response, route.resource, route.namespace, route.name!);
      const selector = matcher(route.resource, route.namespace, query);
      if (verb === 'watch') return this.watch(response, route.resource, selector, query);
      return this.list(response, route.resource, selector, query);
    } catch (error) {
      if (error instanceof SelectorError) return reply(response, 400, status(400, 'BadRequest', error.message));
      throw error;
    }
  }

  private get(response: ServerResponse, resource: Resource, namespace: string | null, name: string): void {
    const object = this.store.get(resource, namespace ? `${namespace}/${name}` : name);
    if (!object) return reply(response, 404, status(404, 'NotFound', `${resource.name} "${name}" not found`));
    reply(response, 200, withTypeMeta(resource, object));
  }

  private list(response: ServerResponse, resource: Resource, selector: Selector, query: Record<string, string>): void {
    let snapshot: ListSnapshot;
    let offset = 0;
    if (query.continue) {
      const [token, start] = query.continue.split(':');
      const found = this.snapshots.get(token ?? '');
      if (!found) return reply(response, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.'));
      snapshot = found;
      offset = Number(start);
    } else {
      snapshot = { items: this.store.list(resource).filter(selector), revision: this.store.resourceVersion };
    }
    const limit = query.limit ? Math.min(Number(query.limit), PAGE_SIZE_LIMIT) : snapshot.items.length;
    const items = snapshot.items.slice(offset, offset + limit);
    const remaining = snapshot.items.length - offset - items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.revision) };
    if (remaining > 0) {
      const token = query.continue?.split(':')[0] ?? randomBytes(8).toString('hex');
      this.snapshots.set(token, snapshot);
      metadata.continue = `${token}:${offset + items.length}`;
      metadata.remainingItemCount = remaining;
    }
    // List items carry no kind or apiVersion: the list itself does.
    reply(response, 200, { kind: `${resource.kind}List`, apiVersion: apiVersion(resource), metadata, items });
  }

  private watch(response: ServerResponse, resource: Resource, selector: Selector, query: Record<string, string>): void {
    const from = query.resourceVersion ?? '';
    // WatchList (client-go's default since 1.35): the current state as ADDED events, whatever the resourceVersion, closed by a bookmark.
    const streamList = query.sendInitialEvents === 'true';
    // No resourceVersion: the current state as ADDED events, then what follows.
    const backlog = streamList || from === '' || from === '0'
      ? this.store.list(resource).filter(selector).map((object): WatchEvent => ({ type: 'ADDED', object: withTypeMeta(resource, object) }))
      : this.store.changesSince(Number(from))?.map((change) => watchEvent(change, resource, selector)).filter((event) => event !== null) ?? null;
    const expired = status(410, 'Expired', `too old resource version: ${from} (${this.store.compacted})`);
    if (backlog === null && this.options.expiredWatch === 'status') return reply(response, 410, expired);
    response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    response.flushHeaders();
    if (backlog === null) {
      this.send(response, [{ type: 'ERROR', object: expired }]);
      response.end();
      return;
    }
    const watch: OpenWatch = { resource, response, bookmarks: query.allowWatchBookmarks === 'true' };
    this.watches.add(watch);
    const unsubscribe = this.store.subscribe((change) => {
      const event = watchEvent(change, resource, selector);
      if (event) this.send(response, [event]);
    });
    const timeout = query.timeoutSeconds ? setTimeout(() => response.end(), Number(query.timeoutSeconds) * 1000) : null;
    response.on('close', () => {
      this.watches.delete(watch);
      unsubscribe();
      if (timeout) clearTimeout(timeout);
    });
    if (backlog.length > 0) this.send(response, backlog);
    if (streamList) this.send(response, [initialEventsEnd(resource, this.store.resourceVersion)]);
  }

  private create(request: IncomingMessage, response: ServerResponse, resource: Resource, namespace: string | null): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ApiObject & { metadata: { generateName?: string } };
      const problem = resource.kind === 'Event' ? validateEvent(body) : null;
      if (problem) return reply(response, 422, status(422, 'Invalid', problem));
      body.metadata.namespace ??= namespace ?? undefined;
      if (resource.namespaced && body.metadata.namespace !== namespace) {
        return reply(response, 400, status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
      }
      if (!body.metadata.name && body.metadata.generateName) body.metadata.name = body.metadata.generateName + randomBytes(3).toString('hex').slice(0, 5);
      if (this.store.get(resource, objectKey(body))) return reply(response, 409, status(409, 'AlreadyExists', `${resource.name} "${body.metadata.name}" already exists`));
      reply(response, 201, withTypeMeta(resource, this.store.put(resource, body)));
    });
  }

  private send(response: ServerResponse, events: readonly unknown[]): void {
    if (response.writableEnded || response.destroyed) return;
    const text = events.map((event) => JSON.stringify(event) + '\n').join('');
    const size = this.options.chunkSize ?? text.length;
    for (let start = 0; start < text.length; start += size) response.write(text.slice(start, start + size));
  }
}

/** `/api/v1[/namespaces/NS]/RESOURCE[/NAME]` and `/apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME]`. */
function parsePath(path: string): { resource: Resource; namespace: string | null; name: string | null } | null {
  const match = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (!match) return null;
  const [, coreVersion, group, groupVersion, namespace, plural, name] = match;
  const resource = RESOURCES.find((candidate) => candidate.name === plural && candidate.group === (group ?? '') && candidate.version === (coreVersion ?? groupVersion));
  if (!resource || (namespace && !resource.namespaced)) return null;
  return { resource, namespace: namespace ?? null, name: name ?? null };
}

function matcher(resource: Resource, namespace: string | null, query: Record<string, string>): Selector {
  const labels = labelSelector(query.labelSelector ?? null);
  const fields = fieldSelector(query.fieldSelector ?? null);
  return (object) => (!namespace || object.metadata.namespace === namespace) && labels(object) && fields(object);
}

interface WatchEvent {
  readonly type: string;
  readonly object: ApiObject;
}

/**
 * How a write looks to one watcher, as the watch cache translates it: an object that starts to
 * match the selector is ADDED, one that stops matching is DELETED (its last matching state, at
 * the new resourceVersion), one that never matched is not sent.
 */
function watchEvent(change: Change, resource: Resource, selector: Selector): WatchEvent | null {
  if (change.resource !== resource) return null;
  const now = change.type !== 'DELETED' && selector(change.object);
  const before = change.previous !== null && selector(change.previous);
  if (change.type === 'DELETED') return before ? { type: 'DELETED', object: withTypeMeta(resource, change.object) } : null;
  if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: withTypeMeta(resource, change.object) };
  if (!before) return null;
  const last = withTypeMeta(resource, structuredClone(change.previous!));
  last.metadata.resourceVersion = String(change.revision);
  return { type: 'DELETED', object: last };
}

/** The BOOKMARK that ends a WatchList's initial events (metav1.InitialEventsAnnotationKey): the reflector's list is complete. */
function initialEventsEnd(resource: Resource, revision: number): Record<string, unknown> {
  return {
    type: 'BOOKMARK',
    object: { kind: resource.kind, apiVersion: apiVersion(resource), metadata: { resourceVersion: String(revision), annotations: { 'k8s.io/initial-events-end': 'true' } } },
  };
}

function withTypeMeta(resource: Resource, object: ApiObject): ApiObject {
  return { kind: resource.kind, apiVersion: apiVersion(resource), ...object };
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function reply(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
