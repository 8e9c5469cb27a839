import { describe, expect, it } from 'vitest';
import { peerTable } from '../src/peer/peer-report.js';
import type { PeerRun } from '../src/peer/peer-run.js';
import type { BackendRun, SyncSample } from '../src/report/results.js';

function sync(liveMs: number): SyncSample {
  return { acceptedMs: liveMs, liveMs, previousProbeMs: null, probes: 1, agentCpuMs: 1, toolCpuMs: 1, batches: 1, batchBytes: 1, tools: {} };
}

const kplane: BackendRun = {
  backend: 'nft', label: 'nft', services: 1000, vm: false, seconds: 1,
  fullSync: { ...sync(500), handleMs: 10 },
  memory: { idleRssBytes: 50e6, afterFullSyncRssBytes: 60e6, afterChangesRssBytes: 60e6, maxRssBytes: 80e6 },
  changes: [{ ...sync(4), service: 1 }, { ...sync(6), service: 2 }],
  connect: { first: [0.1], last: [0.1] },
  bandwidth: { first: [10e9], last: [10e9] },
};

const peer: PeerRun = {
  peer: 'kube-proxy', version: 'Kubernetes v1.37.2', mode: 'nftables', services: 1000, seconds: 1,
  fullSync: { liveMs: 5000, writesMs: 100, syncs: 2, syncMs: 3000 },
  changes: [{ service: 1, liveMs: 40, syncs: 1, syncMs: 30 }, { service: 2, liveMs: 60, syncs: 1, syncMs: 50 }],
  memory: { idleRssBytes: 30e6, afterChangesRssBytes: 40e6, maxRssBytes: 40e6 },
  connect: { first: [0.1], last: [0.12] },
  bandwidth: { first: [10e9], last: [9e9] },
};

describe('peerTable', () => {
  it('puts kube-proxy beside the kplane run of the same mode and N, with kube-proxy ÷ kplane', () => {
    const table = peerTable([peer], [kplane, { ...kplane, services: 5000 }]);
    expect(table).toContain('| 1,000 | nftables vs nft | full sync to live (s) | 5.00 | 0.50 | 10.0x |');
    expect(table).toContain('| 1,000 | nftables vs nft | single endpoint change to live, p50 (ms; 2 vs 2) | 40.0 | 4.0 | 10.0x |');
    expect(table).toContain('| 1,000 | nftables vs nft | RSS peak (MB) | 40 | 80 | 0.50x |');
    expect(table).toContain('| iperf3 to the last service (Gbit/s) | 9.00 | 10.00 | 0.90x |');
  });

  it('shows a dash where kplane has no run, and a failed kube-proxy run as such', () => {
    const table = peerTable([{ ...peer, mode: 'iptables' }, { ...peer, services: 5000, error: 'kube-proxy exited (1): boom\nmore' }], [kplane]);
    expect(table).toContain('| 1,000 | iptables vs iptables-tree-nft | full sync to live (s) | 5.00 | – | – |');
    expect(table).toContain('| 5,000 | nftables vs nft | kube-proxy FAILED: kube-proxy exited (1): boom | | | |');
  });
});
