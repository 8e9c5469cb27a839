import { describe, expect, it } from 'vitest';
import { IptablesTransaction as Transaction, ToolError } from '@kplane/core';
import { FakeIptablesTables } from '@kplane/core/testing';
import { FakeIptablesClient } from '../src/index.js';

const restore = (fake: FakeIptablesClient, transaction: Transaction, mode: 'nft' | 'legacy' = 'nft', family: 4 | 6 = 4) =>
  fake.restore(mode, family, transaction);

describe('Transaction', () => {
  it('prints declarations, rule deletions, appends, insertions and chain deletions in that order, per table', () => {
    const transaction = new Transaction()
      .writeChain('nat', 'KPLANE-A', ['-j KPLANE-B'])
      .writeChain('nat', 'KPLANE-B', [])
      .deleteChain('nat', 'KPLANE-OLD')
      .insertRule('nat', 'PREROUTING', '-j KPLANE-A')
      .deleteRule('nat', 'OUTPUT', '-j KPLANE-OLD')
      .writeChain('filter', 'KPLANE-F', ['-j DROP']);
    expect(transaction.toString()).toBe([
      '*nat', ':KPLANE-A - [0:0]', ':KPLANE-B - [0:0]', ':KPLANE-OLD - [0:0]', '-D OUTPUT -j KPLANE-OLD', '-A KPLANE-A -j KPLANE-B',
      '-I PREROUTING -j KPLANE-A', '-X KPLANE-OLD', 'COMMIT',
      '*filter', ':KPLANE-F - [0:0]', '-A KPLANE-F -j DROP', 'COMMIT', '',
    ].join('\n'));
    expect(new Transaction().empty).toBe(true);
  });
});

describe('FakeIptablesClient', () => {
  it('applies restores and dumps the result in iptables-save format, per variant and family', async () => {
    const fake = new FakeIptablesClient();
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-A', ['-m comment --comment "two words" -j ACCEPT']).insertRule('nat', 'PREROUTING', '-j KPLANE-A'));
    expect(await fake.save('nft', 4, 'nat')).toBe([
      '*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':KPLANE-A - [0:0]',
      '-A PREROUTING -j KPLANE-A', '-A KPLANE-A -m comment --comment "two words" -j ACCEPT', 'COMMIT', '',
    ].join('\n'));
    expect(await fake.save('legacy', 4)).toBe('');
    expect(await fake.save('nft', 6)).toBe('');
  });

  it('rewrites a declared chain: the declaration flushes it', async () => {
    const fake = new FakeIptablesClient();
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-A', ['-j ACCEPT', '-j RETURN']));
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-A', ['-j DROP']));
    expect(fake.chains('nft', 4, 'nat').get('KPLANE-A')).toEqual(['-j DROP']);
  });

  it('refuses like the kernel, and a refused restore changes nothing', async () => {
    const fake = new FakeIptablesClient();
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-A', ['-j KPLANE-B']).writeChain('nat', 'KPLANE-B', []));
    const before = fake.dump('nft', 4);
    const refusals: [Transaction, RegExp][] = [
      [new Transaction().writeChain('nat', 'KPLANE-C', ['-j ACCEPT']).writeChain('nat', 'KPLANE-D', ['-j KPLANE-MISSING']), /Couldn't load target `KPLANE-MISSING'/],
      [new Transaction().deleteChain('nat', 'KPLANE-B'), /referenced/],
      [new Transaction().deleteRule('nat', 'PREROUTING', '-j KPLANE-A'), /Bad rule/],
      [new Transaction().insertRule('nat', 'NOWHERE', '-j ACCEPT'), /Chain 'NOWHERE' does not exist/],
    ];
    for (const [transaction, message] of refusals) {
      await expect(restore(fake, transaction)).rejects.toThrow(message);
      await expect(restore(fake, transaction)).rejects.toBeInstanceOf(ToolError);
      expect(fake.dump('nft', 4)).toBe(before);
    }
  });

  it('refuses, in iptables-nft only, chains nested deeper than nf_tables allows (15 below a base chain)', async () => {
    const nested = (depth: number) => {
      const transaction = new Transaction();
      for (let level = 1; level <= depth; level++) transaction.writeChain('nat', `KPLANE-D${level}`, level < depth ? [`-j KPLANE-D${level + 1}`] : []);
      return transaction.insertRule('nat', 'PREROUTING', '-j KPLANE-D1');
    };
    const fake = new FakeIptablesClient();
    await restore(fake, nested(15));
    await expect(restore(fake, nested(16), 'nft', 6)).rejects.toThrow('Too many links');
    await restore(fake, nested(16), 'legacy');
  });

  it('deletes a chain when the same restore flushes whatever pointed at it', async () => {
    const fake = new FakeIptablesClient();
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-A', ['-j KPLANE-B']).writeChain('nat', 'KPLANE-B', ['-j ACCEPT']));
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-A', []).deleteChain('nat', 'KPLANE-B'));
    expect([...fake.chains('nft', 4, 'nat').keys()]).not.toContain('KPLANE-B');
  });

  it('answers the plain -C, -I and -D commands', () => {
    const fake = new FakeIptablesClient();
    const rule = ['FORWARD', '-m', 'comment', '--comment', 'an accept rule', '-j', 'ACCEPT'];
    expect(() => fake.command('legacy', 4, ['-w', '5', '-C', ...rule])).toThrow(ToolError);
    fake.command('legacy', 4, ['-w', '5', '-I', 'FORWARD', '1', ...rule.slice(1)]);
    fake.command('legacy', 4, ['-w', '5', '-C', ...rule]);
    expect(fake.chains('legacy', 4, 'filter').get('FORWARD')).toEqual(['-m comment --comment "an accept rule" -j ACCEPT']);
    fake.command('legacy', 4, ['-w', '5', '-D', ...rule]);
    expect(fake.chains('legacy', 4, 'filter').get('FORWARD')).toEqual([]);
  });

  it('fails the restore it was told to, changing nothing, and records only what it took', async () => {
    const fake = new FakeIptablesClient().failRestore(1);
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-A', []));
    const before = fake.dump('nft', 4);
    await expect(restore(fake, new Transaction().writeChain('nat', 'KPLANE-B', []))).rejects.toThrow('Resource temporarily unavailable');
    expect(fake.dump('nft', 4)).toBe(before);
    await restore(fake, new Transaction().writeChain('nat', 'KPLANE-C', []));
    expect(fake.restores.map(({ input }) => input.split('\n')[1])).toEqual([':KPLANE-A - [0:0]', ':KPLANE-C - [0:0]']);
  });

  it('lists a table as `iptables -S` does', async () => {
    const fake = new FakeIptablesClient();
    await restore(fake, new Transaction().writeChain('filter', 'KPLANE-F', ['-j DROP']).insertRule('filter', 'INPUT', '-j KPLANE-F'));
    const tables = new FakeIptablesTables({ tool: 'iptables' });
    tables.restore(fake.dump('nft', 4), false);
    expect(tables.list('filter')).toBe(['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT', '-N KPLANE-F', '-A INPUT -j KPLANE-F', '-A KPLANE-F -j DROP', ''].join('\n'));
  });
});
