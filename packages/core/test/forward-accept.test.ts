import { describe, expect, it } from 'vitest';
import { DryRunExecutor, removeForwardAccept, ToolError, type Batch, type Executor, type Query } from '../src/index.js';

const RULE_LINE = '-A FORWARD -m conntrack --ctstate DNAT -m comment --comment "kplane: accept forwarded service traffic" -j ACCEPT';

/** iptables-nft's filter table holds `listing`; every other variant has no FORWARD rules of ours. */
class ScriptedExecutor implements Executor {
  readonly live = true;
  readonly applied: Batch[] = [];

  constructor(private readonly listing: string) {}

  async apply(batch: Batch): Promise<void> {
    this.applied.push(batch);
  }

  async read({ tool, args }: Query): Promise<string> {
    if (tool === 'nft') {
      if (args.join(' ') === 'list table ip filter') return '';
      throw new ToolError('nft', 1, 'No such file or directory');
    }
    return tool === 'iptables-nft' ? this.listing : '-P FORWARD ACCEPT\n';
  }
}

describe('removeForwardAccept', () => {
  it('deletes each copy of kplane\'s FORWARD rule once, and no foreign rule', async () => {
    const executor = new ScriptedExecutor(['-P FORWARD DROP', RULE_LINE, '-A FORWARD -j DOCKER-USER', RULE_LINE, ''].join('\n'));
    await removeForwardAccept(executor);
    expect(executor.applied.map((batch) => [batch.tool, ...batch.args].join(' '))).toEqual([
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
