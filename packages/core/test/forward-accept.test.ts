import { describe, expect, it } from 'vitest';
import { DryRunExecutor, removeForwardAccept } from '../src/index.js';
import { FakeExecutor } from '../src/testing/index.js';

const RULE_LINE = '-A FORWARD -m conntrack --ctstate DNAT -m comment --comment "kplane: accept forwarded service traffic" -j ACCEPT';

/** iptables-nft's filter table holds `listing` (ip6tables-nft has no table); the legacy variants, if the host has them, no rule of ours. */
function iptablesNft(listing: string): FakeExecutor {
  const executor = new FakeExecutor({ 'nft list table ip filter': '' });
  for (const tool of ['iptables-nft', 'iptables-legacy', 'ip6tables-legacy']) {
    executor.answer(`${tool} -w 5 -S FORWARD`, tool === 'iptables-nft' ? listing : '-P FORWARD ACCEPT\n');
  }
  return executor;
}

describe('removeForwardAccept', () => {
  it('deletes each copy of kplane\'s FORWARD rule once, and no foreign rule', async () => {
    const executor = iptablesNft(['-P FORWARD DROP', RULE_LINE, '-A FORWARD -j DOCKER-USER', RULE_LINE, ''].join('\n'));
    await removeForwardAccept(executor);
    expect(executor.batches.map((batch) => [batch.tool, ...batch.args].join(' '))).toEqual([
      'iptables-nft -w 5 -D FORWARD -m conntrack --ctstate DNAT -m comment --comment kplane: accept forwarded service traffic -j ACCEPT',
      'iptables-nft -w 5 -D FORWARD -m conntrack --ctstate DNAT -m comment --comment kplane: accept forwarded service traffic -j ACCEPT',
    ]);
  });

  it('ends on a dry run, whose reads say nothing and whose deletes change nothing', async () => {
    const executor = new DryRunExecutor();
    await removeForwardAccept(executor);
    expect(executor.batches).toEqual([]);
  });
});
