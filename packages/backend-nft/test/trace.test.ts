import { describe, expect, it } from 'vitest';
import { renderTrace, type TracePacket } from '@kplane/core';
import { CONFIG, eps, fakeProxy, svc } from './support.js';

/** The planner test's scenario: every frontend kind, a Local policy, affinity, a port without endpoints. */
async function programmed() {
  const proxy = fakeProxy();
  await proxy.sync([
    svc('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'] }),
    eps('web', ['10.244.1.1', '10.244.1.2']),
    eps('web', ['fd00:10:244:1::1'], { name: 'web-v6' }),
    svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24'], externalTrafficPolicy: 'Local' }),
    eps('lb', ['10.244.1.4']),
    eps('lb', ['10.244.2.5'], { nodeName: 'node-b', name: 'lb-remote' }),
    svc('sticky', { clusterIPs: ['10.96.0.30'], affinitySeconds: 600 }),
    eps('sticky', ['10.244.1.6', '10.244.1.7']),
    svc('empty', { clusterIPs: ['10.96.0.50'] }),
  ]);
  return proxy;
}

const packet = (source: string, destination: string, port: number, from: TracePacket['from'] = 'pod'): TracePacket =>
  ({ source, destination, port, protocol: 'TCP', from, localAddresses: CONFIG.nodeIPs });

describe('nft trace over the planned tables', () => {
  it('a ClusterIP: each endpoint at 1/2, a pod not masqueraded', async () => {
    const { backend } = await programmed();
    expect(renderTrace(await backend.trace!(packet('10.244.9.2', '10.96.0.10', 80)))).toBe(`TCP 10.244.9.2 -> 10.96.0.10:80 from pod (nft, rules from the kernel)
  hook: filter-prerouting
  chain filter-prerouting: ct state new jump firewall-check-g1
  hook: nat-prerouting
  chain nat-prerouting: jump services-g1
  map service-ips-g1: 10.96.0.10 . tcp . 80 : goto cluster-g1
  map pick-g1: 10.96.0.10 . tcp . 80 : goto pick-tcp-2-g1
  => DNAT to 10.244.1.1:8080, not masqueraded (p=0.5): endpoint slot 0 of the service port's 2
       map endpoints-tcp-g1: 10.96.0.10 . tcp . 80 . 0 : 10.244.1.1 . 8080  # DNAT to 10.244.1.1:8080 (slot 0 of 2)
       hook: filter-forward
       chain filter-forward: ct state new jump service-endpoints-check-g1
       chain filter-forward: ct state new jump cluster-ips-check-g1
       hook: nat-postrouting
       chain nat-postrouting: jump masquerading-g1
       chain masquerading-g1: meta mark & 0x00004000 == 0 return  # returns
  => DNAT to 10.244.1.2:8080, not masqueraded (p=0.5): endpoint slot 1 of the service port's 2
       map endpoints-tcp-g1: 10.96.0.10 . tcp . 80 . 1 : 10.244.1.2 . 8080  # DNAT to 10.244.1.2:8080 (slot 1 of 2)
       hook: filter-forward
       chain filter-forward: ct state new jump service-endpoints-check-g1
       chain filter-forward: ct state new jump cluster-ips-check-g1
       hook: nat-postrouting
       chain nat-postrouting: jump masquerading-g1
       chain masquerading-g1: meta mark & 0x00004000 == 0 return  # returns
`);
  });

  it('from outside the cluster CIDRs: masqueraded; IPv6 too', async () => {
    const { backend } = await programmed();
    const v4 = await backend.trace!(packet('192.168.0.99', '10.96.0.10', 80, 'external'));
    expect(v4.outcomes.map(({ verdict, endpoint, masquerade }) => [verdict, endpoint, masquerade])).toEqual([['dnat', '10.244.1.1:8080', true], ['dnat', '10.244.1.2:8080', true]]);
    const v6 = await backend.trace!(packet('fd00:10:244:9::2', 'fd00:96::10', 80));
    expect(v6.outcomes.map(({ verdict, endpoint, probability }) => [verdict, endpoint, probability])).toEqual([['dnat', '[fd00:10:244:1::1]:8080', 1]]);
  });

  it('no endpoints: REJECT; an unknown port of a cluster IP: REJECT; another address: not ours', async () => {
    const { backend } = await programmed();
    const empty = await backend.trace!(packet('10.244.9.2', '10.96.0.50', 80));
    expect(empty.outcomes.map(({ verdict, why }) => [verdict, why])).toEqual([['reject', 'the service port has no endpoint']]);
    const port = await backend.trace!(packet('10.244.9.2', '10.96.0.10', 81));
    expect(port.outcomes.map(({ verdict }) => verdict)).toEqual(['reject']);
    expect(port.outcomes[0]!.why).toMatch(/no service has/);
    const other = await backend.trace!(packet('10.244.9.2', '10.1.2.3', 80));
    expect(other.outcomes.map(({ verdict }) => verdict)).toEqual(['accept']);
  });

  it('a load-balancer IP: DROP outside its source ranges; eTP Local from outside only the local endpoint, unmasqueraded; its cluster IP reaches all', async () => {
    const { backend } = await programmed();
    const outsider = await backend.trace!(packet('192.168.0.99', '198.51.100.1', 80, 'external'));
    expect(outsider.outcomes.map(({ verdict, why }) => [verdict, why])).toEqual([['drop', 'the source is outside the service\'s loadBalancerSourceRanges']]);
    const allowed = await backend.trace!(packet('203.0.113.7', '198.51.100.1', 80, 'external'));
    expect(allowed.outcomes.map(({ verdict, endpoint, masquerade, probability }) => [verdict, endpoint, masquerade, probability])).toEqual([['dnat', '10.244.1.4:8080', false, 1]]);
    const pod = await backend.trace!(packet('10.244.9.2', '10.96.0.20', 80));
    expect(pod.outcomes.map(({ endpoint }) => endpoint)).toEqual(['10.244.1.4:8080', '10.244.2.5:8080']);
  });

  it('a NodePort with eTP Local from outside, and from the node itself (masqueraded, all endpoints)', async () => {
    const { backend, config } = await programmed();
    const nodePort = 30000 + [...'lb'].reduce((sum, char) => sum + char.charCodeAt(0), 0);
    const outside = await backend.trace!(packet('203.0.113.7', config.nodeIPs[0]!, nodePort, 'external'));
    expect(outside.outcomes.map(({ verdict, endpoint, masquerade }) => [verdict, endpoint, masquerade])).toEqual([['dnat', '10.244.1.4:8080', false]]);
    const node = await backend.trace!(packet(config.nodeIPs[0]!, config.nodeIPs[0]!, nodePort, 'node'));
    expect(node.outcomes.map(({ endpoint, masquerade }) => [endpoint, masquerade])).toEqual([['10.244.1.4:8080', true], ['10.244.2.5:8080', true]]);
  });

  it('affinity: a new client draws one of the endpoints; a remembered one sticks to its endpoint', async () => {
    const { backend, nft } = await programmed();
    const fresh = await backend.trace!(packet('10.244.9.2', '10.96.0.30', 80));
    expect(fresh.outcomes.map(({ endpoint, probability }) => [endpoint, probability])).toEqual([['10.244.1.6:8080', 0.5], ['10.244.1.7:8080', 0.5]]);
    const [affinitySet] = [...nft.dump().matchAll(/set (aff-\S+) /g)].map((match) => match[1]!);
    nft.apply(`add element ip kplane ${affinitySet} { 10.244.9.2 }`);
    const remembered = await backend.trace!(packet('10.244.9.2', '10.96.0.30', 80));
    expect(remembered.outcomes).toHaveLength(1);
    expect(remembered.outcomes[0]!.steps.some((step) => step.rule.includes(`@${affinitySet}`))).toBe(true);
  });

  it('the planned batches (a dry run\'s) trace as the tables they leave', async () => {
    const { backend, nft } = await programmed();
    const planned = nft.transactions.map((tx) => ({ tool: 'nft', args: ['-f', '-'], input: tx.toString() }));
    const live = await backend.trace!(packet('10.244.9.2', '10.96.0.10', 80));
    const fromPlan = await backend.trace!(packet('10.244.9.2', '10.96.0.10', 80), planned);
    expect(fromPlan.input).toBe('plan');
    expect(fromPlan.outcomes).toEqual(live.outcomes);
  });

  it('a rule it does not know ends the path as not understood', async () => {
    const { backend, nft } = await programmed();
    nft.apply('add rule ip kplane services-g1 ip dscp 0x2e accept');
    nft.apply('flush chain ip kplane services-g1');
    nft.apply('add rule ip kplane services-g1 ip dscp 0x2e accept');
    const trace = await backend.trace!(packet('10.244.9.2', '10.96.0.10', 80));
    expect(trace.outcomes.map(({ verdict, why }) => [verdict, why])).toEqual([['not-understood', 'rule not understood: ip dscp 0x2e accept']]);
  });
});
