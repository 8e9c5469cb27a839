import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { ClientRequest } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import type { FakeApiServerOptions, RecordedRequest, Verb } from './fake-api-server/index.js';
import { listenOnLoopback, writeLoopbackKubeconfig } from './loopback.js';

/** The variable naming the kubeconfig of a real kube-apiserver (`npm run apiserver:e2e` sets it). */
export const REAL_APISERVER_ENV = 'KPLANE_TEST_APISERVER_KUBECONFIG';
/**
 * The client URL of that server's etcd, for `compact()`. Only meaningful when the API server runs
 * without its watch cache (`--watch-cache=false`): watches are then served from etcd, and one
 * from a compacted revision gets the API server's real 410 Gone.
 */
export const REAL_ETCD_ENV = 'KPLANE_TEST_ETCD_URL';

interface ProxiedWatch {
  readonly resource: string;
  readonly response: ServerResponse;
  readonly upstream: ClientRequest;
}

interface Fault {
  readonly verb: Verb;
  readonly resource: string;
  readonly status: number;
  remaining: number;
}

interface Response {
  readonly status: number;
  readonly body: string;
}

/** The resources the tests write, by kind: their collection path (namespace filled in) and whether they have /status. */
const RESOURCES: Record<string, { readonly path: (namespace: string) => string; readonly status: boolean }> = {
  Service: { path: (namespace) => `/api/v1/namespaces/${namespace}/services`, status: true },
  EndpointSlice: { path: (namespace) => `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, status: false },
  Node: { path: () => '/api/v1/nodes', status: true },
};

const FIELD_MANAGER = 'kplane-test';
/** Lets a test Node carry a deletionTimestamp: a deleted Node with a finalizer stays, terminating. */
const HOLD_FINALIZER = 'kplane.test/hold';
/** The cluster's own `kubernetes` Service is none of the tests' business: handed to another proxy. */
const NOT_OURS = { 'service.kubernetes.io/service-proxy-name': 'kplane-test-not-ours' };

/**
 * A real kube-apiserver behind a recording loopback gateway, with the FakeApiServer members the
 * Kubernetes-source tests use. The gateway records each request as the fake does and injects the
 * network's faults (dropped and cleanly closed watches, unreachability, failing requests); the
 * answers — lists, pages, watches, selectors, resourceVersions, 401s — are the real server's.
 * Writes go straight to the server, in order, with server-side apply. Each start empties the
 * cluster of the kinds above. What only a fake can do (compaction on demand, bookmarks on demand,
 * reading its store) throws, so a test that needs it fails loudly.
 */
export class RealApiServer {
  readonly requests: RecordedRequest[] = [];
  private readonly gateway: Server;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<ProxiedWatch>();
  private readonly faults: Fault[] = [];
  private readonly upstream: URL;
  private readonly agent: Agent;
  private readonly token: string;
  private writes: Promise<void> = Promise.resolve();
  /** Writes made before any client came: no watch can see their order, so they may run side by side. */
  private readonly unobserved = new Map<string, (() => Promise<void>)[]>();
  private clientCame = false;
  private writeError: Error | null = null;
  private port = 0;

  private constructor(kubeconfigPath: string, private readonly options: FakeApiServerOptions) {
    const config = new KubeConfig();
    config.loadFromFile(kubeconfigPath);
    const cluster = config.getCurrentCluster();
    const token = config.getCurrentUser()?.token;
    if (!cluster?.caFile || !token) throw new Error(`${kubeconfigPath}: needs a cluster with certificate-authority and a user with a token`);
    this.upstream = new URL(cluster.server);
    this.agent = new Agent({ ca: readFileSync(cluster.caFile), keepAlive: true });
    this.token = token;
    this.gateway = createServer((request, response) => this.forward(request, response));
    this.gateway.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(kubeconfigPath: string, options: FakeApiServerOptions = {}): Promise<RealApiServer> {
    const server = new RealApiServer(kubeconfigPath, options);
    await server.empty();
    await server.listen();
    return server;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig for the gateway; with `token`, clients must send that token (the gateway swaps it for the real one). */
  writeKubeconfig(): string {
    return writeLoopbackKubeconfig('real', this.url, this.options.token ?? this.token);
  }

  /** Creates or replaces an object (server-side apply; its status too). Queued: `settled()` waits for it. */
  apply(object: Record<string, unknown>): void {
    const metadata = object.metadata as { name: string; namespace?: string };
    const copy = structuredClone(object);
    this.queue(`${String(object.kind)}/${metadata.namespace ?? ''}/${metadata.name}`, () => this.applyNow(copy));
  }

  /** Deletes `namespace/name` (or `name` for a Node). Queued like `apply`. */
  delete(kind: string, key: string): boolean {
    this.queue(`${kind}/${key.includes('/') ? key : `/${key}`}`, async () => {
      const [namespace, name] = key.includes('/') ? key.split('/') as [string, string] : ['', key];
      await this.expect([200, 202, 404], 'DELETE', `${collection(kind, namespace)}/${name}`);
    });
    return true;
  }

  /** Waits for every queued write; throws the first that failed. */
  async settled(): Promise<void> {
    const groups = [...this.unobserved.values()];
    this.unobserved.clear();
    // Each object's writes in order, the objects side by side (the 1,000-Service test writes 6,000).
    if (groups.length > 0) this.chain(() => inBatches(groups, async (writes) => { for (const write of writes) await write(); }));
    await this.writes;
    if (this.writeError) throw this.writeError;
  }

  openWatches(resource?: string): number {
    return [...this.watches].filter((watch) => !resource || watch.resource === resource).length;
  }

  failNext(verb: Verb, resource: string, status: number, count = 1): void {
    this.faults.push({ verb, resource, status, remaining: count });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Ends every watch cleanly after its last whole event, as the server does when `timeoutSeconds` runs out. */
  closeWatches(): void {
    for (const watch of this.watches) {
      watch.upstream.destroy();
      watch.response.end();
    }
  }

  /** Cuts every watch connection without ending its stream, as a network failure does. */
  dropWatches(): void {
    for (const watch of this.watches) {
      watch.upstream.destroy();
      watch.response.socket?.destroy();
    }
  }

  /** The gateway stops listening and cuts every connection: the API server is unreachable until `resume()`. */
  async pause(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.gateway.close(() => resolve()));
    for (const watch of this.watches) watch.upstream.destroy();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port, once the writes made while away (and any compaction) are done. */
  async resume(): Promise<void> {
    await this.writes;
    await this.listen();
  }

  async stop(): Promise<void> {
    if (this.gateway.listening) await this.pause();
    // The writes still on their way first: destroying the agent under them would cut them off.
    await this.writes;
    this.agent.destroy();
    await this.settled();
  }

  get store(): { readonly resourceVersion: number } {
    throw new Error('a real API server has no store to read');
  }

  /** Compacts etcd at its current revision, after the writes queued before it. */
  compact(): void {
    const etcd = process.env[REAL_ETCD_ENV];
    if (!etcd) throw new Error(`compaction on demand needs ${REAL_ETCD_ENV} and an API server without watch cache (npm run apiserver:e2e sets both for these tests)`);
    this.chain(async () => {
      // etcd's JSON gateway: any read tells the current revision.
      const range = await fetch(`${etcd}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('/').toString('base64') }) });
      const revision = ((await range.json()) as { header: { revision: string } }).header.revision;
      const compaction = await fetch(`${etcd}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
      if (!compaction.ok) throw new Error(`etcd compaction at ${revision}: HTTP ${compaction.status} ${await compaction.text()}`);
    });
  }

  expireWatches(): void {
    throw new Error('a real API server expires watches on its own, not on demand');
  }

  bookmark(): void {
    throw new Error('a real API server sends bookmarks on its own schedule, not on demand');
  }

  private queue(key: string, write: () => Promise<void>): void {
    if (this.clientCame) return this.chain(write);
    this.unobserved.set(key, [...(this.unobserved.get(key) ?? []), write]);
  }

  private chain(write: () => Promise<void>): void {
    this.writes = this.writes.then(write).catch((error: unknown) => {
      this.writeError ??= error instanceof Error ? error : new Error(String(error));
    });
  }

  private async applyNow(object: Record<string, unknown>): Promise<void> {
    const kind = String(object.kind);
    const metadata = object.metadata as { name: string; namespace?: string; deletionTimestamp?: string; finalizers?: string[]; managedFields?: unknown };
    const deleting = metadata.deletionTimestamp !== undefined;
    // Fields the server owns: it refuses them in an apply, and keeps its own.
    delete metadata.deletionTimestamp;
    delete metadata.managedFields;
    if (deleting) metadata.finalizers = [...(metadata.finalizers ?? []), HOLD_FINALIZER];
    const path = `${collection(kind, metadata.namespace ?? '')}/${metadata.name}`;
    const applyQuery = `?fieldManager=${FIELD_MANAGER}&force=true`;
    const { status, ...rest } = object;
    const stored = JSON.parse((await this.expect([200, 201], 'PATCH', path + applyQuery, rest, 'application/apply-patch+yaml')).body) as { status?: Record<string, unknown> };
    // A Node keeps the status it is created with; a Service drops it. A needless status write would be one more event.
    const statusKept = status !== undefined && Object.entries(status as Record<string, unknown>).every(([field, value]) => JSON.stringify(stored.status?.[field]) === JSON.stringify(value));
    if (status && !statusKept && RESOURCES[kind]?.status) {
      await this.expect([200, 201], 'PATCH', `${path}/status${applyQuery}`, { apiVersion: object.apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace }, status }, 'application/apply-patch+yaml');
    }
    if (deleting) await this.expect([200, 202], 'DELETE', path);
  }

  /** Removes every Service (but the cluster's own), EndpointSlice and Node, so each test starts on an empty cluster. */
  private async empty(): Promise<void> {
    type Item = { metadata: { name: string; namespace?: string; finalizers?: string[] } };
    const items = async (path: string) => (JSON.parse((await this.expect([200], 'GET', path)).body) as { items: Item[] }).items;
    const remove = (kind: string) => (item: Item) => this.expect([200, 202, 404], 'DELETE', `${collection(kind, item.metadata.namespace ?? '')}/${item.metadata.name}`);
    const services = (await items('/api/v1/services')).filter((item) => !(item.metadata.namespace === 'default' && item.metadata.name === 'kubernetes'));
    await inBatches(services, remove('Service'));
    // A collection delete would be one request, but not every kind offers it (Services do not).
    await inBatches(await items('/apis/discovery.k8s.io/v1/endpointslices'), remove('EndpointSlice'));
    const nodes = await items('/api/v1/nodes');
    await inBatches(nodes.filter((node) => node.metadata.finalizers?.length), (node) => this.expect([200], 'PATCH', `/api/v1/nodes/${node.metadata.name}`, { metadata: { finalizers: null } }, 'application/merge-patch+json'));
    await inBatches(nodes, remove('Node'));
    await this.expect([200], 'PATCH', '/api/v1/namespaces/default/services/kubernetes', { metadata: { labels: NOT_OURS } }, 'application/merge-patch+json');
  }

  private async expect(statuses: readonly number[], method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Response> {
    const response = await this.send(method, path, body, contentType);
    if (!statuses.includes(response.status)) throw new Error(`real API server: ${method} ${path} → HTTP ${response.status}: ${response.body.slice(0, 500)}`);
    return response;
  }

  private send(method: string, path: string, body: unknown, contentType: string): Promise<Response> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const outgoing = httpsRequest(this.upstreamOptions(method, path, {
        authorization: `Bearer ${this.token}`,
        accept: 'application/json',
        ...(payload !== undefined && { 'content-type': contentType }),
      }), (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        incoming.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(payload);
    });
  }

  private upstreamOptions(method: string, path: string, headers: Record<string, string | string[] | undefined>): RequestOptions {
    return { hostname: this.upstream.hostname, port: this.upstream.port, method, path, headers, agent: this.agent };
  }

  /** Records the request as the fake does, injects a pending fault, or passes it on to the real server. */
  private forward(request: IncomingMessage, response: ServerResponse): void {
    if (!this.clientCame) {
      // From now on a watch may see the order of writes: keep it.
      this.clientCame = true;
      void this.settled().catch(() => {});
    }
    const url = new URL(request.url ?? '/', 'http://gateway');
    const route = /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/[^/]+)?\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    const query = Object.fromEntries(url.searchParams);
    const verb: Verb = request.method === 'POST' ? 'create' : route?.[2] ? 'get' : query.watch === 'true' || query.watch === '1' ? 'watch' : 'list';
    if (route) {
      const resource = route[1]!;
      this.requests.push({ verb, resource, query });
      const fault = this.faults.find((candidate) => candidate.verb === verb && candidate.resource === resource && candidate.remaining > 0);
      if (fault) {
        fault.remaining--;
        response.writeHead(fault.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: fault.status, reason: 'InternalError', message: 'injected failure' }));
        return;
      }
    }
    // The token of the kubeconfig written with `token` stands for the real one; any other goes as it is.
    const authorization = this.options.token && request.headers.authorization === `Bearer ${this.options.token}` ? `Bearer ${this.token}` : request.headers.authorization;
    // Uncompressed, so that watch streams can be cut between events.
    const headers = { ...request.headers };
    delete headers['accept-encoding'];
    const upstream = httpsRequest(this.upstreamOptions(request.method ?? 'GET', request.url ?? '/', { ...headers, host: this.upstream.host, authorization }), (incoming) => {
      response.writeHead(incoming.statusCode ?? 502, incoming.headers);
      if (verb !== 'watch' || !route) {
        incoming.pipe(response);
        return;
      }
      // A quiet watch sends no event for a while: the client must see it open at once.
      response.flushHeaders();
      const watch: ProxiedWatch = { resource: route[1]!, response, upstream };
      this.watches.add(watch);
      response.on('close', () => {
        this.watches.delete(watch);
        upstream.destroy();
      });
      passWholeLines(incoming, response);
    });
    upstream.on('error', () => response.socket?.destroy());
    request.pipe(upstream);
  }

  private async listen(): Promise<void> {
    this.port = await listenOnLoopback(this.gateway, this.port);
  }
}

/** Passes a watch stream on one whole event (line) at a time, so that ending it never cuts an event. */
function passWholeLines(incoming: IncomingMessage, response: ServerResponse): void {
  let pending = '';
  incoming.setEncoding('utf8');
  incoming.on('data', (chunk: string) => {
    pending += chunk;
    const end = pending.lastIndexOf('\n');
    if (end < 0 || response.writableEnded) return;
    response.write(pending.slice(0, end + 1));
    pending = pending.slice(end + 1);
  });
  incoming.on('end', () => response.end());
}

/** Runs `task` on every item, 16 at a time (the 1,000-Service test leaves 6,000 objects behind). */
async function inBatches<Item>(items: readonly Item[], task: (item: Item) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < items.length; start += 16) await Promise.all(items.slice(start, start + 16).map(task));
}

function collection(kind: string, namespace: string): string {
  const resource = RESOURCES[kind];
  if (!resource) throw new Error(`the real API server adapter writes only ${Object.keys(RESOURCES).join(', ')}, not ${kind}`);
  return resource.path(namespace);
}
