import { describe, expect, it } from 'vitest';
import { renderCharts } from '../src/report/charts.js';
import { renderMarkdown } from '../src/report/markdown.js';
import type { BackendRun, BenchResults, ChangeSample, SyncSample } from '../src/report/results.js';
import { median, percentile } from '../src/report/stats.js';
import { checkTargets, targetServices } from '../src/report/targets.js';

function sync(liveMs: number): SyncSample {
  return { acceptedMs: liveMs + 1, liveMs, previousProbeMs: liveMs - 1, probes: 3, agentCpuMs: 1, toolCpuMs: 1, batches: 1, batchBytes: 10, tools: { nft: { calls: 1, ms: liveMs / 2 } } };
}

function run(backend: string, services: number, changeMs: number, connect: [number, number], bandwidth: [number, number]): BackendRun {
  const changes: ChangeSample[] = Array.from({ length: 30 }, (_, index) => ({ ...sync(changeMs + index / 10), service: index + 1 }));
  return {
    backend, label: backend, services, vm: false, seconds: 10,
    fullSync: { ...sync(1200), handleMs: 100 },
    memory: { idleRssBytes: 80e6, afterFullSyncRssBytes: 140e6, afterChangesRssBytes: 120e6, maxRssBytes: 145e6 },
    changes,
    connect: { first: Array<number>(200).fill(connect[0]), last: Array<number>(200).fill(connect[1]) },
    bandwidth: { first: [bandwidth[0]], last: [bandwidth[1]] },
  };
}

function results(services: number): BenchResults {
  return {
    startedAt: '2026-11-26T00:00:00Z', finishedAt: '2026-11-26T00:20:00Z', seconds: 1200, settings: { quick: false },
    machine: {
      kernel: '6.18', cpu: 'cpu', cores: 2, memoryGiB: 24, node: 'v20', loadAtStart: [1, 1, 1], loadAtEnd: [1, 1, 1], busiestAtStart: [],
      commit: 'abc', tools: { nft: 'nftables v1.0.6' }, packages: {},
    },
    runs: [
      { ...run('nft', services, 20, [0.1, 0.1], [10e9, 9.5e9]), fileSource: { liveMs: 2600, startupMs: 2700, editLiveMs: [150, 170] } },
      run('iptables-tree-nft', services, 40, [0.1, 0.12], [10e9, 8e9]),
      run('iptables-flat-nft', services, 60, [0.1, 0.3], [10e9, 10e9]),
      run('nft', 1000, 5, [0.1, 0.1], [10e9, 10e9]),
    ],
    vm: { available: false, reason: '--no-vm', runs: [] },
    controlPlane: [{ backend: 'nft', label: 'nft', services, runs: [{ handleMs: 300, syncMs: 300, heapBytes: 80e6, batchBytes: 1 }, { handleMs: 250, syncMs: 250, heapBytes: 80e6, batchBytes: 1 }] }],
    fileLoad: [{ services, bytes: 15.1e6, parseMs: [700, 650, 900], planMs: [2500, 2400, 3600] }],
    baselines: { ipset: [], iptablesRestore: [{ mode: 'nft', noflush: true, services, bytes: 1e7, loadMs: 2000, rewriteMs: 1600, capMs: 60_000 }] },
    failures: [],
  };
}

describe('stats', () => {
  it('takes nearest-rank percentiles', () => {
    const samples = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(median(samples)).toBe(50);
    expect(percentile(samples, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(median([])).toBeNaN();
  });
});

describe('targets', () => {
  it('judges at 20,000 services when they ran, else at the largest N', () => {
    expect(targetServices(results(20_000))).toBe(20_000);
    expect(targetServices(results(5000))).toBe(5000);
  });

  it('checks each target against the figures of the same run', () => {
    const checks = checkTargets(results(20_000));
    const find = (text: string) => checks.find((check) => check.target.includes(text))!;
    expect(find('20x faster')).toMatchObject({ met: true });
    expect(find('20x faster').measured).toMatch(/^38\.6x/);
    expect(find('nft single change')).toMatchObject({ met: true, measured: '21.4 ms' });
    expect(find('nft full sync')).toMatchObject({ met: true, measured: '1.20 s' });
    expect(find('diff + plan')).toMatchObject({ met: false, measured: '40.0K services/s' });
    expect(find('connect latency ≤ 1.5 (iptables-tree-nft)')).toMatchObject({ met: true });
    expect(find('connect latency ≤ 1.5 (iptables-flat-nft')).toMatchObject({ met: null, measured: expect.stringMatching(/^3\.00/) });
    expect(find('bandwidth ≥ 0.9 (iptables-tree-nft)')).toMatchObject({ met: false, measured: expect.stringMatching(/^0\.80/) });
    expect(find('RSS ≤ 150 MB (nft')).toMatchObject({ met: true, measured: '145 MB' });
    expect(find('`kplane plan --source file:`')).toMatchObject({ met: true, measured: '2.50 s (of which reading the file 0.70 s)' });
    expect(find('`kplane run --source file:`')).toMatchObject({ met: true, measured: '2.60 s' });
  });
});

describe('report', () => {
  it('writes the targets, a table per N, the baselines and why the VM part is missing', () => {
    const markdown = renderMarkdown(results(20_000), [{ title: 'chart', path: 'results/x.svg' }]);
    expect(markdown).toContain('## Targets at 20,000 services\n');
    expect(markdown).toContain('### 1,000 services');
    expect(markdown).toContain('### 20,000 services');
    expect(markdown).toContain('| iptables-tree-nft | 1.20 | 1.20 / 0.60 |');
    expect(markdown).toContain('Not measured in this run: --no-vm.');
    expect(markdown).toContain('| 20,000 | 15.1 | 0.70 [0.65–0.90] | 2.50 [2.40–3.60] | 2.60 / 2.70 | 150 |');
    expect(markdown).toContain('![chart](results/x.svg)');
  });

  it('renders the charts as SVG without a browser', async () => {
    const charts = await renderCharts(results(20_000).runs, 'test');
    expect(charts.map((chart) => chart.name)).toEqual(['change-latency', 'full-sync', 'connect-first-last', 'bandwidth-first-last']);
    for (const chart of charts) expect(chart.svg).toMatch(/^<svg[^>]*>/);
  });
});
