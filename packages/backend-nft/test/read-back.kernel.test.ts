import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyConfig } from '@kplane/core';
import { NetnsExecutor } from '@kplane/conformance';
import { ExecNftClient, type NftClient, type NftTransaction } from '../src/index.js';
import { workload } from './restart-workload.js';
import { CONFIG, fakeProxy } from './support.js';

/** The real nft in a namespace, keeping the text of every transaction sent. */
function recordingClient(namespace: string, sent: string[]): NftClient {
  const client = new ExecNftClient(new NetnsExecutor(namespace));
  const run = client.run.bind(client);
  client.run = (tx: NftTransaction) => {
    if (tx.size > 0) sent.push(tx.toString());
    return run(tx);
  };
  return client;
}

/**
 * The read-back against the real nft: a restart over tables nft lists in its own spelling (hex
 * marks, one-element sets as comparisons, `tcp dport` for `th dport`, timeouts in minutes) finds
 * them matching and writes nothing, for the option sets that change rule text.
 */
describe('nft: the first sync after a restart over matching tables writes nothing (real nft)', () => {
  const namespace = `kprb${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', namespace]);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'delete', namespace], { reject: false });
  });

  const configs: [string, ProxyConfig][] = [
    ['default options', CONFIG],
    ['masquerade-all, node-port addresses, no cluster CIDRs', { ...CONFIG, masqueradeAll: true, nodePortAddresses: ['192.168.0.0/24', 'fd00:1::/64'], clusterCIDRs: [] }],
  ];
  it.each(configs)('%s', async (_, config) => {
    for (const family of ['ip', 'ip6']) await execa('ip', ['netns', 'exec', namespace, 'nft', 'delete', 'table', family, 'kplane'], { reject: false });
    const first: string[] = [];
    await fakeProxy(config, () => recordingClient(namespace, first)).start(workload());
    expect(first.length).toBeGreaterThan(0);
    const afterRestart: string[] = [];
    await fakeProxy(config, () => recordingClient(namespace, afterRestart)).start(workload());
    expect(afterRestart).toEqual([]);
    const moved: string[] = [];
    await fakeProxy(config, () => recordingClient(namespace, moved)).start(workload(true));
    expect(moved).toHaveLength(1);
    expect(moved[0]).not.toContain('add table');
  });
});
