import { afterEach } from 'vitest';
import { DEFAULT_CONFIG, DryRunExecutor, createLogger, createProxy, ContainerModule, TOKENS, type ProxyConfig } from '../../src/index.js';
import { KubernetesSource, type KubernetesSourceOptions } from '../../src/kubernetes.js';
import { endpointSliceObject, serviceObject } from '../../src/testing/index.js';
import { FakeApiServer, type FakeApiServerOptions, type Verb } from '../support/fake-api-server/index.js';
import { REAL_APISERVER_ENV, RealApiServer } from '../support/real-api-server.js';
import { RecordingBackend } from '../support/recording-backend.js';

export const NODE = 'node-a';

/** The API server of a test: the in-repo fake, or a real kube-apiserver when $KPLANE_TEST_APISERVER_KUBECONFIG names one. */
export type TestApiServer = FakeApiServer | RealApiServer;

export function apiServer(options?: FakeApiServerOptions): Promise<TestApiServer> {
  const kubeconfig = process.env[REAL_APISERVER_ENV];
  return kubeconfig ? RealApiServer.start(kubeconfig, options) : FakeApiServer.start(options);
}

/** A fake API server, a KubernetesSource on it, and an engine (real clock) syncing a recording backend. */
export async function startProxy<Server extends TestApiServer = TestApiServer>(options: {
  server?: Server;
  serverOptions?: FakeApiServerOptions;
  source?: Partial<KubernetesSourceOptions>;
  config?: Partial<ProxyConfig>;
  backend?: RecordingBackend;
} = {}) {
  // Without a server of the test's own, Server is TestApiServer.
  const server = options.server ?? await apiServer(options.serverOptions) as Server;
  // A real server's writes are asynchronous: what the test wrote before the start must be there.
  if (server instanceof RealApiServer) await server.settled();
  const backend = options.backend ?? new RecordingBackend();
  const config = { ...DEFAULT_CONFIG, nodeName: NODE, minSyncPeriodMs: 20, ...options.config };
  const logger = createLogger('silent');
  const proxy = createProxy({ config, executor: new DryRunExecutor(), logger }, new ContainerModule(({ bind }) => void bind(TOKENS.Backend).toConstantValue(backend)));
  const source = new KubernetesSource({
    kubeconfig: server.writeKubeconfig(),
    qps: 1000,
    burst: 1000,
    nodeName: NODE,
    serviceProxyName: '',
    backoff: { initialMs: 20, maxMs: 200 },
    ...options.source,
  }, logger);
  proxy.engine.onRejected((rejection) => source.reportRejection(rejection));
  let ready = false;
  const started = source.start(proxy.engine.handle).then(() => {
    proxy.engine.start();
    ready = true;
  });
  const stop = async () => {
    await source.stop();
    await proxy.engine.stop();
    await server.stop();
  };
  return {
    ...proxy, server, backend, source, started, stop,
    isStarted: () => ready,
    lastSync: () => backend.syncs.at(-1),
    requests: (verb: Verb, resource: string) => server.requests.filter((request) => request.verb === verb && request.resource === resource),
  };
}

/** startProxy for the tests of one file: each proxy, and whatever is passed to `alsoStop`, is stopped after its test. */
export function proxiesPerTest() {
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });
  return {
    start: async <Server extends TestApiServer = TestApiServer>(options: Parameters<typeof startProxy<Server>>[0] = {}) => {
      const proxy = await startProxy<Server>(options);
      stops.push(proxy.stop);
      return proxy;
    },
    alsoStop: (stop: () => Promise<unknown>) => void stops.push(stop),
  };
}

export function nodeObject(name: string, patch: { zone?: string; deleting?: boolean } = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { 'kubernetes.io/hostname': name, ...(patch.zone && { 'topology.kubernetes.io/zone': patch.zone }) },
      ...(patch.deleting && { deletionTimestamp: '2026-01-01T00:00:00Z' }),
    },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }] },
  };
}

/** A ClusterIP Service `name` with one TCP port `http` (80 → 8080) and one EndpointSlice per list of addresses. */
export function service(name: string, clusterIP: string, labels: Record<string, string> = {}): Record<string, unknown> {
  const object = serviceObject(name, { clusterIPs: [clusterIP], ports: [{ name: 'http', port: 80 }] });
  (object.metadata as { labels?: Record<string, string> }).labels = labels;
  return object;
}

export function slice(serviceName: string, sliceName: string, ips: readonly string[], labels: Record<string, string> = {}): Record<string, unknown> {
  const object = endpointSliceObject(serviceName, { name: sliceName, ports: [{ name: 'http', port: 8080 }], endpoints: ips.map((ip) => ({ ip })) });
  const metadata = object.metadata as { labels: Record<string, string> };
  metadata.labels = { ...metadata.labels, ...labels };
  return object;
}

/**
 * Fills `server` with `services` ClusterIP Services, each with `slicesPerService` EndpointSlices of
 * `endpointsPerSlice` ready endpoints, plus this node. Returns how many endpoints each Service has.
 */
export function fillCluster(server: TestApiServer, services: number, slicesPerService: number, endpointsPerSlice: number): number {
  server.apply(nodeObject(NODE));
  for (let index = 0; index < services; index++) {
    const name = `svc-${index}`;
    // From 10.96.0.1: a real API server refuses the range's network address.
    const address = index + 1;
    server.apply(service(name, `10.96.${address >> 8}.${address & 255}`));
    for (let sliceIndex = 0; sliceIndex < slicesPerService; sliceIndex++) {
      const ips = Array.from({ length: endpointsPerSlice }, (_, host) => `10.${1 + (index >> 8)}.${index & 255}.${sliceIndex * endpointsPerSlice + host + 1}`);
      server.apply(slice(name, `${name}-${sliceIndex}`, ips));
    }
  }
  return slicesPerService * endpointsPerSlice;
}
