import { describe, expect, it } from 'vitest';
import { eps, fakeProxy, svc } from './support.js';

/** Two Services claiming one external IP and port: core lets one of them have it, the same one however the backend syncs. */
describe('nft: two Services sharing an externalIP', () => {
  const first = [
    svc('alpha', { clusterIPs: ['10.96.0.12'], externalIPs: ['192.0.2.7'] }), eps('alpha', ['10.244.1.1']),
    svc('beta', { clusterIPs: ['10.96.0.13'], externalIPs: ['192.0.2.7'] }), eps('beta', ['10.244.1.2']),
  ];
  const changes = [[eps('alpha', ['10.244.1.3'])], [eps('beta', ['10.244.1.4', '10.244.1.5'])], [svc('alpha', { clusterIPs: ['10.96.0.12'], externalIPs: ['192.0.2.7'], affinitySeconds: 60 })]];

  it('leave the same kernel after partial syncs as after one full sync', async () => {
    const incremental = fakeProxy();
    await incremental.sync(first);
    for (const [index, batch] of changes.entries()) {
      await incremental.sync(batch);
      const fresh = fakeProxy();
      await fresh.sync([...first, ...changes.slice(0, index + 1).flat()]);
      expect(incremental.nft.dump(), `after change ${index + 1}`).toBe(fresh.nft.dump());
    }
  });
});
