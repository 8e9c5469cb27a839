import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import { FAKE_BACKENDS } from './fake-backends.js';

/**
 * Defects the hostile-input fuzz found, each as a test that FAILS on the code as it is (`it.fails`
 * passes while the defect lasts). Whoever fixes one turns its `it.fails` into `it`, and removes
 * its workaround in known-bug-workarounds.ts.
 */

function loadBalancer(externalIPs: readonly string[], ingress: readonly string[]): SourceEvent {
  return {
    action: 'upsert', kind: 'Service', object: {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb', namespace: 'default' },
      spec: { type: 'LoadBalancer', clusterIPs: ['10.96.0.1'], externalIPs, ports: [{ name: 'http', port: 80, nodePort: 30080 }] },
      status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } },
    },
  };
}

describe.each(['iptables tree', 'iptables flat'])('%s: a Service that lists one frontend address twice', (name) => {
  // BUG (found by hostile-input.test.ts, seed -1256314149): the partial planner inserts each frontend
  // into KPLANE-IPS and throws "tree KPLANE-IPS: item 192.0.2.1 TCP 80 KPLANE-EXT-... is already present"
  // (backend-iptables/src/planner/plan-partial.ts replaceItems → tree/prefix-tree.ts insert). Every
  // partial sync touching such a Service fails; the engine falls back to a full sync (which copes),
  // so each change costs a failed sync, kplane_backend_sync_errors_total and a backoff. An external
  // IP equal to the LoadBalancer's ingress IP (MetalLB setups do this) is enough; nft and ipvs cope.
  it.fails.each([
    ['an external IP twice', ['192.0.2.1', '192.0.2.1'], []],
    ['a load-balancer ingress IP twice', [], ['192.0.2.1', '192.0.2.1']],
    ['an external IP that is also its ingress IP', ['192.0.2.1'], ['192.0.2.1']],
  ])('programs %s in a partial sync (FAILS: fix pending)', async (_, externalIPs, ingress) => {
    const backend = FAKE_BACKENDS[name]!();
    await backend.proxy.backend.init();
    expect(await backend.proxy.engine.sync()).toBe(true);
    backend.proxy.engine.handle([loadBalancer(externalIPs, ingress)]);
    expect(await backend.proxy.engine.sync()).toBe(true);
  });
});
