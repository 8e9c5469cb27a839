import { describe, expect, it } from 'vitest';
import { FakeNftClient, NftTransaction } from '../src/index.js';

const base = () => new NftTransaction('kplane').add('ip', { kind: 'table' }).add('ip', { kind: 'chain', name: 'c' });

describe('NftTransaction and FakeNftClient: rules', () => {
  it('offer no rule deletion or flush, and a rule deletion written anyway reads as what it is, which nft refuses', async () => {
    const nft = new FakeNftClient();
    await nft.run(base().add('ip', { kind: 'rule', chain: 'c', rule: 'drop' }));
    const tx = new NftTransaction('kplane');
    // @ts-expect-error nft deletes a rule only by handle: the transaction has no such operation
    tx.delete('ip', { kind: 'rule', chain: 'c', rule: 'drop' });
    // @ts-expect-error there is no `flush rule` in nft
    tx.flush('ip', { kind: 'rule', chain: 'c', rule: 'drop' });
    expect(tx.toString()).toBe('delete rule ip kplane c drop\nflush rule ip kplane c drop\n');
    await expect(nft.run(tx)).rejects.toThrow(/line 1 .*expecting handle/);
    expect(nft.rules('ip', 'kplane', 'c')).toEqual([{ handle: 2, rule: 'drop' }]);
  });

  it('number rules as the kernel does and delete one by its handle alone', () => {
    const nft = new FakeNftClient();
    nft.apply([
      'add table ip kplane',
      'add chain ip kplane a',
      'add set ip kplane s { typeof ip daddr; }',
      'add rule ip kplane a ip daddr @s drop',
      'add rule ip kplane a counter',
      'add chain ip kplane a',
      'add chain ip kplane b',
      'add rule ip kplane b jump a',
    ].join('\n'));
    expect(nft.rules('ip', 'kplane', 'a').map((rule) => rule.handle)).toEqual([3, 4]);
    expect(nft.rules('ip', 'kplane', 'b')).toEqual([{ handle: 6, rule: 'jump a' }]);
    expect(() => nft.apply('delete rule ip kplane b handle 3')).toThrow(/no such rule/);
    expect(() => nft.apply('delete rule ip kplane a counter')).toThrow(/expecting handle/);
    nft.apply('delete rule ip kplane a handle 3');
    expect(nft.rules('ip', 'kplane', 'a')).toEqual([{ handle: 4, rule: 'counter' }]);
  });
});

describe('FakeNftClient: faults', () => {
  it('fails the transaction it was told to, without applying or recording it, then works again', async () => {
    const nft = new FakeNftClient().failNext();
    await expect(nft.run(base())).rejects.toThrow(/injected failure/);
    expect(await nft.list('ip', 'kplane')).toBeNull();
    expect(nft.transactions).toHaveLength(0);
    await nft.run(base());
    expect((await nft.list('ip', 'kplane'))?.chains).toEqual(new Set(['c']));
  });
});
