import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, type SourceEvent } from '../../src/index.js';
import { KubernetesSource } from '../../src/kubernetes.js';
import { endpointSliceObject, serviceObject } from '../../src/testing/index.js';
import { NODE, apiServer, nodeObject, service, slice, proxiesPerTest } from './harness.js';

const { start: proxy, alsoStop } = proxiesPerTest();

const WEB = 'default/web:http/TCP';

describe('KubernetesSource', () => {
  it('hands over nothing until Services, EndpointSlices and the Node are all listed; then the first sync has everything', async () => {
    const server = await apiServer();
    server.apply(service('web', '10.96.0.1'));
    server.apply(slice('web', 'web-1', ['10.1.0.1']));
    server.apply(nodeObject(NODE));
    server.failNext('list', 'nodes', 500, Number.POSITIVE_INFINITY);
    const { engine, backend, started, isStarted, requests } = await proxy({ server });
    await vi.waitFor(() => expect(requests('list', 'nodes').length).toBeGreaterThanOrEqual(3));
    expect(requests('list', 'services')).toHaveLength(1);
    expect(isStarted()).toBe(false);
    expect(backend.syncs).toHaveLength(0);
    expect(engine.health.healthz().healthy).toBe(false);
    server.clearFaults();
    await started;
    await vi.waitFor(() => expect(backend.syncs.length).toBeGreaterThan(0));
    expect(backend.syncs[0]).toMatchObject({ full: true, endpoints: { [WEB]: ['10.1.0.1:8080'] } });
    expect(engine.health.healthz().healthy).toBe(true);
  });

  it('merges the EndpointSlices of a Service whatever order they and the Service arrive in', async () => {
    const { server, started, lastSync } = await proxy();
    server.apply(nodeObject(NODE));
    await started;
    server.apply(slice('web', 'web-b', ['10.1.0.3']));
    server.apply(slice('web', 'web-a', ['10.1.0.1', '10.1.0.2']));
    server.apply(service('web', '10.96.0.1'));
    server.apply(slice('web', 'web-c', ['10.1.0.4']));
    await vi.waitFor(() => expect(lastSync()?.endpoints[WEB]).toEqual(['10.1.0.1:8080', '10.1.0.2:8080', '10.1.0.3:8080', '10.1.0.4:8080']));
    server.delete('EndpointSlice', 'default/web-b');
    await vi.waitFor(() => expect(lastSync()?.endpoints[WEB]).toEqual(['10.1.0.1:8080', '10.1.0.2:8080', '10.1.0.4:8080']));
  });

  it('follows a slice split and a merge of one Service without losing an endpoint on the way', async () => {
    const { server, started, backend, lastSync } = await proxy();
    const all = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4'];
    const expected = all.map((ip) => `${ip}:8080`);
    server.apply(nodeObject(NODE));
    server.apply(service('web', '10.96.0.1'));
    server.apply(slice('web', 'web-1', all));
    await started;
    await vi.waitFor(() => expect(lastSync()?.endpoints[WEB]).toEqual(expected));
    const before = backend.syncs.length;
    // The EndpointSlice controller's order: the new slice first, then the old one shrinks.
    server.apply(slice('web', 'web-2', all.slice(2)));
    server.apply(slice('web', 'web-1', all.slice(0, 2)));
    await vi.waitFor(() => expect(backend.syncs.length).toBeGreaterThan(before));
    await vi.waitFor(() => expect(lastSync()?.endpoints[WEB]).toEqual(expected));
    // Merge back: the remaining slice grows first, then the other is deleted.
    server.apply(slice('web', 'web-1', all));
    server.delete('EndpointSlice', 'default/web-2');
    await vi.waitFor(() => expect(lastSync()?.endpoints[WEB]).toEqual(expected));
    for (const sync of backend.syncs.slice(before)) expect(sync.endpoints[WEB]).toEqual(expected);
  });

  it('skips what kube-proxy skips: headless Services and Services of another proxy (filtered by the API server)', async () => {
    const { server, engine, started, lastSync, requests } = await proxy();
    server.apply(nodeObject(NODE));
    server.apply(service('web', '10.96.0.1'));
    server.apply(slice('web', 'web-1', ['10.1.0.1']));
    server.apply(serviceObject('db', { clusterIPs: ['None'], ports: [{ name: 'pg', port: 5432 }] }));
    server.apply(slice('db', 'db-1', ['10.1.0.9'], { 'service.kubernetes.io/headless': '' }));
    server.apply(service('other', '10.96.0.2', { 'service.kubernetes.io/service-proxy-name': 'someone-else' }));
    server.apply(slice('other', 'other-1', ['10.1.0.5'], { 'service.kubernetes.io/service-proxy-name': 'someone-else' }));
    await started;
    await vi.waitFor(() => expect(lastSync()?.endpoints).toEqual({ [WEB]: ['10.1.0.1:8080'] }));
    expect(requests('list', 'endpointslices')[0]!.query.labelSelector).toBe('!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name');
    // A Service handed to another proxy disappears (the API server sends DELETED as it stops matching).
    server.apply(service('web', '10.96.0.1', { 'service.kubernetes.io/service-proxy-name': 'someone-else' }));
    await vi.waitFor(() => expect(lastSync()?.endpoints).toEqual({}));
    expect(engine.desiredState.size).toBe(0);
  });

  it('with --service-proxy-name, programs the Services labelled with it and unlabelled ones, and skips the others', async () => {
    const { server, started, lastSync, requests } = await proxy({ source: { serviceProxyName: 'kplane' } });
    server.apply(nodeObject(NODE));
    for (const [name, ip, labels] of [
      ['mine', '10.96.0.1', { 'service.kubernetes.io/service-proxy-name': 'kplane' }],
      ['plain', '10.96.0.2', {}],
      ['theirs', '10.96.0.3', { 'service.kubernetes.io/service-proxy-name': 'someone-else' }],
    ] as const) {
      server.apply(service(name, ip, labels));
      server.apply(slice(name, `${name}-1`, [ip.replace('10.96', '10.1')], labels));
    }
    await started;
    await vi.waitFor(() => expect(Object.keys(lastSync()?.endpoints ?? {})).toEqual(['default/mine:http/TCP', 'default/plain:http/TCP']));
    expect(requests('list', 'services')[0]!.query.labelSelector).toBeUndefined();
    server.apply(service('mine', '10.96.0.1', { 'service.kubernetes.io/service-proxy-name': 'someone-else' }));
    await vi.waitFor(() => expect(Object.keys(lastSync()?.endpoints ?? {})).toEqual(['default/plain:http/TCP']));
  });

  it('watches only this node: its zone selects topology hints, its deletion fails /healthz', async () => {
    const { server, engine, started, lastSync, requests } = await proxy();
    server.apply(nodeObject(NODE, { zone: 'zone-a' }));
    server.apply(nodeObject('node-b', { zone: 'zone-b' }));
    server.apply(service('web', '10.96.0.1'));
    server.apply(endpointSliceObject('web', {
      name: 'web-1',
      ports: [{ name: 'http', port: 8080 }],
      endpoints: [{ ip: '10.1.0.1', zone: 'zone-a', hintZones: ['zone-a'] }, { ip: '10.1.0.2', zone: 'zone-b', hintZones: ['zone-b'] }],
    }));
    await started;
    expect(requests('list', 'nodes')[0]!.query.fieldSelector).toBe(`metadata.name=${NODE}`);
    await vi.waitFor(() => expect(lastSync()?.endpoints[WEB]).toEqual(['10.1.0.1:8080']));
    server.apply(nodeObject(NODE, { zone: 'zone-b' }));
    await vi.waitFor(() => expect(lastSync()?.endpoints[WEB]).toEqual(['10.1.0.2:8080']));
    server.delete('Node', 'node-b');
    server.apply(nodeObject(NODE, { zone: 'zone-b', deleting: true }));
    await vi.waitFor(() => expect(engine.health.healthz().body.nodeEligible).toBe(false));
    expect(engine.health.livez().healthy).toBe(true);
  });

  it('keeps only what the proxy reads: no managedFields, targetRefs, Node status or unread annotations', async () => {
    const server = await apiServer();
    alsoStop(() => server.stop());
    const web = service('web', '10.96.0.1');
    Object.assign(web.metadata as object, {
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(10_000) },
      managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
    });
    (web.spec as Record<string, unknown>).selector = { app: 'web' };
    const webSlice = endpointSliceObject('web', { name: 'web-1', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.1.0.1' }], triggerTime: '2026-01-01T00:00:00Z' });
    (webSlice.endpoints as Record<string, unknown>[])[0]!.targetRef = { kind: 'Pod', name: 'web-abc', namespace: 'default', uid: 'u' };
    const node = { ...nodeObject(NODE, { zone: 'zone-a' }), status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }], images: [{ names: ['x'], sizeBytes: 1 }], conditions: [{ type: 'Ready' }] } };
    server.apply(web);
    server.apply(webSlice);
    server.apply(node);
    const delivered: SourceEvent[] = [];
    const source = new KubernetesSource({ kubeconfig: server.writeKubeconfig(), qps: 100, burst: 100, nodeName: NODE, serviceProxyName: '' }, createLogger('silent'));
    alsoStop(() => source.stop());
    await source.start((events) => delivered.push(...events));
    server.apply({ ...web, metadata: { ...(web.metadata as object), labels: { app: 'web' } } });
    await vi.waitFor(() => expect(delivered).toHaveLength(4));
    const objects = delivered.map((event) => (event.action === 'upsert' ? event.object : null));
    for (const object of objects) {
      expect(JSON.stringify(object)).not.toMatch(/managedFields|last-applied|targetRef|images|"Ready"|selector|"app"/);
    }
    // A Service's creation time decides who holds a frontend two Services claim; nothing else needs one.
    expect(JSON.stringify(objects.slice(1, 3))).not.toContain('creationTimestamp');
    expect(objects[0]).toEqual({
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name: 'web', namespace: 'default', creationTimestamp: expect.any(String), resourceVersion: expect.any(String), uid: expect.any(String) },
      spec: { type: 'ClusterIP', clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    });
    expect(objects[1]).toMatchObject({
      metadata: { labels: { 'kubernetes.io/service-name': 'web' }, annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-01T00:00:00Z' } },
      endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true, serving: true, terminating: false } }],
    });
    expect(objects[2]).toMatchObject({ metadata: { name: NODE, labels: { 'topology.kubernetes.io/zone': 'zone-a' } }, status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }] } });
  });

  it('stops for good: a watch still waiting for the rate limit never opens', async () => {
    const server = await apiServer();
    alsoStop(() => server.stop());
    server.apply(nodeObject(NODE));
    // A burst of 3 covers the three lists; each watch then waits 0.5 s for its turn.
    const source = new KubernetesSource({ kubeconfig: server.writeKubeconfig(), qps: 2, burst: 3, nodeName: NODE, serviceProxyName: '' }, createLogger('silent'));
    const delivered: SourceEvent[] = [];
    void source.start((events) => delivered.push(...events));
    await vi.waitFor(() => expect(server.requests.filter((request) => request.verb === 'list')).toHaveLength(3));
    await source.stop();
    const deliveredBeforeStop = delivered.length;
    await new Promise((resolve) => setTimeout(resolve, 1800));
    expect(server.requests.filter((request) => request.verb === 'watch')).toEqual([]);
    expect(server.openWatches()).toBe(0);
    expect(delivered).toHaveLength(deliveredBeforeStop);
  });

  it('authenticates with the token of the kubeconfig, and keeps retrying while the API server refuses it', async () => {
    const server = await apiServer({ token: 'secret' });
    server.apply(nodeObject(NODE));
    server.apply(service('web', '10.96.0.1'));
    const { started, lastSync } = await proxy({ server });
    await started;
    await vi.waitFor(() => expect(lastSync()?.endpoints).toEqual({ [WEB]: [] }));

    const guarded = await apiServer({ token: 'secret' });
    const kubeconfig = guarded.writeKubeconfig();
    writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace('token: secret', 'token: wrong'));
    const refused = await proxy({ server: guarded, source: { kubeconfig } });
    await vi.waitFor(() => expect(refused.requests('list', 'services').length).toBeGreaterThanOrEqual(3));
    expect(refused.isStarted()).toBe(false);
  });
});
