import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import { FAKE_BACKENDS } from './fake-backends.js';

/**
 * A defect the hostile-input fuzz found (seed -1256314149): the iptables partial planner threw
 * "tree KPLANE-IPS: item 192.0.2.1 TCP 80 KPLANE-EXT-... is already present" on a Service listing
 * one frontend address twice, so every partial sync touching it failed (a sync error, a backoff,
 * a full sync). Fixed in core's validation (ea527cf: each frontend address once).
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

describe.each(Object.keys(FAKE_BACKENDS))('%s: a Service that lists one frontend address twice', (name) => {
  it.each([
    ['an external IP twice', ['192.0.2.1', '192.0.2.1'], []],
    ['a load-balancer ingress IP twice', [], ['192.0.2.1', '192.0.2.1']],
    ['an external IP that is also its ingress IP', ['192.0.2.1'], ['192.0.2.1']],
  ])('programs %s in a partial sync', async (_, externalIPs, ingress) => {
    const backend = FAKE_BACKENDS[name]!();
    await backend.proxy.backend.init();
    expect(await backend.proxy.engine.sync()).toBe(true);
    backend.proxy.engine.handle([loadBalancer(externalIPs, ingress)]);
    expect(await backend.proxy.engine.sync()).toBe(true);
  });
});
