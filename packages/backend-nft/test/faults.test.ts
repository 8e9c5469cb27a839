import { describe, expect, it } from 'vitest';
import type { SyncRequest } from '@kplane/core';
import type { NftTransaction } from '../src/index.js';
import { CONFIG, eps, fakeProxy, svc } from './support.js';

/** The nft backend on a FakeNftClient, with every request the engine made of it. */
function recordedProxy(...args: Parameters<typeof fakeProxy>) {
  const proxy = fakeProxy(...args);
  const requests: SyncRequest[] = [];
  const sync = proxy.backend.sync.bind(proxy.backend);
  proxy.backend.sync = (request) => {
    requests.push(request);
    return sync(request);
  };
  /** Makes the `nth` transaction from now fail, and keeps its text. */
  const failTransaction = (nth: number): { text: string } => {
    const refused = { text: '' };
    let seen = 0;
    proxy.nft.failNext((tx: NftTransaction) => {
      if (++seen !== nth) return false;
      refused.text = tx.toString();
      return true;
    });
    return refused;
  };
  return { ...proxy, requests, failTransaction };
}

const texts = (transactions: readonly NftTransaction[]): string[] => transactions.map((tx) => tx.toString());
const anyGeneration = (dump: string): string => dump.replace(/-g\d+\b/g, '-g#');

describe('nft backend: a refused plan leaves the model as it was', () => {
  it('partial sync: the next plan of the same change is the plan the kernel refused', async () => {
    const proxy = recordedProxy();
    await proxy.sync([svc('web', { clusterIPs: ['10.96.0.10'], affinitySeconds: 60 }), eps('web', ['10.244.1.1', '10.244.1.2'])]);
    const refused = proxy.failTransaction(1);
    proxy.engine.handle([eps('web', ['10.244.1.1', '10.244.1.3', '10.244.1.4'])]);
    expect(await proxy.engine.sync()).toBe(false);
    const request = proxy.requests.at(-1)!;
    expect(request.full).toBe(false);
    expect(refused.text).toContain('add element ip kplane endpoints-tcp-g1');
    await proxy.backend.sync(request);
    expect(proxy.nft.transactions.at(-1)!.toString()).toBe(refused.text);
  });

  const split = { ...CONFIG, backendOptions: new Map([['transaction-elements', '1000'], ['parallel-transactions', '3']]) };
  const services = Array.from({ length: 400 }, (_, i) => [svc(`s${i}`, { clusterIPs: [`10.96.${i >> 8}.${i & 255}`] }), eps(`s${i}`, [`10.244.${i >> 8}.${i & 255}`])]).flat();

  it('split full sync refused at its first stage: the next full plan is the same', async () => {
    const proxy = recordedProxy(split);
    await proxy.sync(services);
    const full = { ...proxy.requests.at(-1)!, full: true };
    const refused = proxy.failTransaction(1);
    await expect(proxy.backend.sync(full)).rejects.toThrow(/injected failure/);
    const before = proxy.nft.transactions.length;
    await proxy.backend.sync(full);
    const retry = texts(proxy.nft.transactions.slice(before));
    expect(retry).toHaveLength(5);
    expect(retry[0]).toBe(refused.text);
    expect(retry[0]).toContain('add map ip kplane service-ips-g2');
  });

  it('split full sync refused in its element stage: the kernel is read again, and the next full sync removes what was left', async () => {
    const proxy = recordedProxy(split);
    await proxy.sync(services);
    const full = { ...proxy.requests.at(-1)!, full: true };
    proxy.failTransaction(3);
    await expect(proxy.backend.sync(full)).rejects.toThrow(/injected failure/);
    expect(proxy.nft.dump()).toMatch(/-g2\b/);
    await proxy.backend.sync(full);
    expect(proxy.nft.dump()).not.toMatch(/-g[12]\b/);
    const fresh = fakeProxy(split);
    await fresh.sync(services);
    expect(anyGeneration(proxy.nft.dump())).toBe(anyGeneration(fresh.nft.dump()));
  });
});
