import { describe, expect, it } from 'vitest';
import { type Batch, type TracePacket } from '@kplane/core';
import { readGolden } from '@kplane/core/testing';
import { traceIptables } from '../src/trace/trace.js';
import type { IptablesClient } from '../src/client/client.js';

/** The golden plan's batches (`# <tool> <args>` heads each restore input), as a dry run records them. */
function plannedBatches(): Batch[] {
  const text = readGolden(new URL('./golden/full-features.txt', import.meta.url));
  return text.split(/^# /m).filter(Boolean).map((chunk) => {
    const [head, ...lines] = chunk.split('\n');
    const [tool, ...args] = head!.split(' ');
    return { tool: tool!, args, input: lines.join('\n') };
  });
}

const unused = {} as IptablesClient;
const packet = (source: string, destination: string, port: number, protocol: TracePacket['protocol'] = 'TCP', from: TracePacket['from'] = 'pod'): TracePacket =>
  ({ source, destination, port, protocol, from, localAddresses: ['192.168.50.1'] });
const summary = async (p: TracePacket) => (await traceIptables(unused, 'nft', p, plannedBatches())).outcomes
  .map(({ verdict, endpoint, probability, masquerade, why }) => ({ verdict, endpoint, probability, masquerade, why }));

describe('iptables trace over the planned restores', () => {
  it('a ClusterIP: statistic 0.5 then the rest; masqueraded from outside the cluster CIDR only', async () => {
    expect(await summary(packet('10.244.9.2', '10.96.1.1', 80))).toEqual([
      { verdict: 'dnat', endpoint: '10.244.0.1:8080', probability: 0.5, masquerade: false, why: 'an endpoint of the service port' },
      { verdict: 'dnat', endpoint: '10.244.9.1:8080', probability: 0.5, masquerade: false, why: 'an endpoint of the service port' },
    ]);
    expect((await summary(packet('192.168.50.2', '10.96.1.1', 80, 'TCP', 'external'))).map(({ masquerade }) => masquerade)).toEqual([true, true]);
  });

  it('affinity (recent): a first connection draws among the endpoints', async () => {
    expect((await summary(packet('10.244.9.2', '10.96.1.2', 53, 'UDP'))).map(({ endpoint, probability }) => [endpoint, probability]))
      .toEqual([['10.244.0.3:5353', 0.5], ['10.244.0.4:5353', 0.5]]);
  });

  it('no endpoints: REJECT; an unknown port: REJECT; outside the source ranges: DROP; not ours', async () => {
    expect(await summary(packet('10.244.9.2', '10.96.1.3', 3868, 'SCTP'))).toMatchObject([{ verdict: 'reject', why: 'the service port has no endpoint' }]);
    expect(await summary(packet('10.244.9.2', '10.96.1.1', 81))).toMatchObject([{ verdict: 'reject', why: 'a cluster IP on a port no service has' }]);
    expect(await summary(packet('203.0.113.9', '198.51.100.10', 80, 'TCP', 'external'))).toMatchObject([{ verdict: 'drop', why: 'the source is outside the service\'s loadBalancerSourceRanges' }]);
    expect(await summary(packet('10.244.9.2', '10.1.2.3', 80))).toMatchObject([{ verdict: 'accept' }]);
  });

  it('eTP Local from outside: only the local endpoint, unmasqueraded; through the NodePort too', async () => {
    expect(await summary(packet('192.168.50.9', '198.51.100.10', 80, 'TCP', 'external'))).toMatchObject([{ verdict: 'dnat', endpoint: '10.244.0.1:8080', probability: 1, masquerade: false }]);
    expect(await summary(packet('192.168.50.9', '192.168.50.1', 30080, 'TCP', 'external'))).toMatchObject([{ verdict: 'dnat', endpoint: '10.244.0.1:8080', masquerade: false }]);
  });
});

describe('iptables trace over the live tables', () => {
  it('reads iptables-save\'s spelling (MARK --set-xmark V/V, recent --mask --rsource)', async () => {
    const restore = plannedBatches().find((batch) => batch.tool.startsWith('iptables-'))!.input;
    const saved = restore.replace(/--or-mark (0x[0-9a-f]+)/g, '--set-xmark $1/$1').replace(/--set -j DNAT/g, '--set --mask 255.255.255.255 --rsource -j DNAT');
    const client = { save: async () => saved } as unknown as IptablesClient;
    const trace = await traceIptables(client, 'nft', packet('192.168.50.2', '10.96.1.2', 53, 'UDP', 'external'));
    expect(trace.input).toBe('kernel');
    expect(trace.outcomes.map(({ verdict, endpoint, masquerade }) => [verdict, endpoint, masquerade])).toEqual([['dnat', '10.244.0.3:5353', true], ['dnat', '10.244.0.4:5353', true]]);
  });
});
