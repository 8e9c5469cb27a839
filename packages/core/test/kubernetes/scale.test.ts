import { describe, expect, it, vi } from 'vitest';
import { apiServer, fillCluster, proxiesPerTest } from './harness.js';

const { start: startProxy } = proxiesPerTest();

describe('KubernetesSource at scale', () => {
  it('lists 1,000 Services with 5,000 EndpointSlices in pages and syncs them all in the first sync', { timeout: 60_000 }, async () => {
    const server = await apiServer();
    const endpointsPerService = fillCluster(server, 1000, 5, 2);
    const proxy = await startProxy({ server, source: { qps: 5, burst: 10 } });
    await proxy.started;
    await vi.waitFor(() => expect(proxy.backend.syncs.length).toBeGreaterThan(0), { timeout: 30_000 });
    const first = proxy.backend.syncs[0]!;
    expect(first.full).toBe(true);
    expect(Object.keys(first.endpoints)).toHaveLength(1000);
    for (const endpoints of Object.values(first.endpoints)) expect(endpoints).toHaveLength(endpointsPerService);
    expect(first.endpoints['default/svc-999:http/TCP']).toContain('10.4.231.10:8080');
    // client-go's page size: 2 pages of Services, 10 of EndpointSlices.
    expect(proxy.requests('list', 'services')).toHaveLength(2);
    expect(proxy.requests('list', 'endpointslices')).toHaveLength(10);
  });
});
