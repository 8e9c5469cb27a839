import { planFigures, runFigures } from './figures.js';
import type { BenchResults } from './results.js';
import { median } from './stats.js';

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** null: shown for comparison, no target. */
  readonly met: boolean | null;
}

const TARGET_SERVICES = 20_000;

/** The N the targets are judged at: 20,000 when it ran, else the largest N of the run (and the report says so); null without native runs. */
export function targetServices(results: BenchResults): number | null {
  const sizes = [...new Set([...results.runs, ...results.controlPlane].map((run) => run.services))];
  if (sizes.length === 0) return null;
  return sizes.includes(TARGET_SERVICES) ? TARGET_SERVICES : Math.max(...sizes);
}

/** Issue 6's targets, as ratios and figures from this one run. */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const services = targetServices(results);
  const checks: TargetCheck[] = [];
  if (services === null) return checks;
  const figures = (backend: string) => {
    const run = results.runs.find((candidate) => candidate.backend === backend && candidate.services === services && !candidate.error);
    return run ? runFigures(run) : null;
  };
  const number = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : 'not measured');
  const judge = (value: number, ok: (value: number) => boolean): boolean => Number.isFinite(value) && ok(value);

  for (const mode of ['nft', 'legacy'] as const) {
    const tree = figures(`iptables-tree-${mode}`);
    // The baseline at its fastest: the quicker of the two ways to restore the whole flat layout.
    const restore = results.baselines.iptablesRestore
      .filter((baseline) => baseline.mode === mode && baseline.services === services)
      .sort((a, b) => (a.rewriteMs ?? a.loadMs ?? a.capMs) - (b.rewriteMs ?? b.loadMs ?? b.capMs))[0];
    if (!tree || !restore) continue;
    // A restore stopped at its cap took longer than the cap: the ratio is then at least cap / change.
    const flatMs = restore.rewriteMs ?? restore.loadMs ?? restore.capMs;
    const atLeast = restore.rewriteMs === null;
    const ratio = flatMs / tree.changeP50Ms;
    const how = `iptables-${mode}-restore${restore.noflush ? ' --noflush' : ''}`;
    const flat = restore.rewriteMs !== null ? `flat rewrite ${number(flatMs / 1000, 2)} s with ${how}` : restore.loadMs !== null ? `flat load ${number(flatMs / 1000, 2)} s, no rewrite` : `flat restore stopped after ${number(flatMs / 1000, 0)} s`;
    checks.push({
      target: `iptables tree single change ≥ 20x faster than the flat full restore (${mode} mode${mode === 'legacy' ? ': no target, the kernel swaps the whole table per commit' : ''})`,
      measured: `${atLeast ? '≥ ' : ''}${number(ratio)}x (${flat} / tree change p50 ${number(tree.changeP50Ms)} ms)`,
      met: mode === 'nft' ? judge(ratio, (value) => value >= 20) : null,
    });
  }
  const nft = figures('nft');
  if (nft) {
    checks.push({ target: 'nft single change p50 ≤ 50 ms (change entering the engine → a probe reaches the new endpoint)', measured: `${number(nft.changeP50Ms)} ms`, met: judge(nft.changeP50Ms, (value) => value <= 50) });
    checks.push({ target: 'nft full sync ≤ 1.5 s (state received → last service answers)', measured: `${number(nft.fullSyncLiveS, 2)} s`, met: judge(nft.fullSyncLiveS, (value) => value <= 1.5) });
  }
  const fileLoad = results.fileLoad.find((entry) => entry.services === services);
  if (fileLoad) {
    const planS = median(fileLoad.planMs) / 1000;
    checks.push({ target: '`kplane plan --source file:` on a YAML manifest ≤ 3 s (nft; process start → exit)', measured: `${number(planS, 2)} s (of which reading the file ${number(median(fileLoad.parseMs) / 1000, 2)} s)`, met: judge(planS, (value) => value <= 3) });
  }
  const fileRun = results.runs.find((run) => run.backend === 'nft' && run.services === services && run.fileSource)?.fileSource;
  if (fileRun) {
    checks.push({ target: '`kplane run --source file:` every service live ≤ 3 s after the process starts (nft)', measured: `${number(fileRun.liveMs / 1000, 2)} s`, met: judge(fileRun.liveMs, (value) => value <= 3000) });
  }
  for (const run of results.controlPlane.filter((entry) => entry.services === services)) {
    const rate = planFigures(run).warmServicesPerS;
    checks.push({ target: `core diff + plan ≥ 50K services/s (${run.label} planner)`, measured: `${number(rate / 1000)}K services/s`, met: judge(rate, (value) => value >= 50_000) });
  }
  for (const backend of ['nft', 'iptables-tree-nft', 'iptables-tree-legacy', 'iptables-flat-nft', 'iptables-flat-legacy']) {
    const run = figures(backend);
    if (!run) continue;
    const baseline = backend.startsWith('iptables-flat');
    checks.push({
      target: `last/first connect latency ≤ 1.5 (${backend}${baseline ? ': baseline, shows its O(N) walk' : ''})`,
      measured: `${number(run.connectRatio, 2)} (${number(run.connectLastUs, 0)} / ${number(run.connectFirstUs, 0)} µs)`,
      met: baseline ? null : judge(run.connectRatio, (value) => value <= 1.5),
    });
    checks.push({
      target: `last/first bandwidth ≥ 0.9 (${backend}${baseline ? ': baseline' : ''})`,
      measured: `${number(run.bandwidthRatio, 2)} (${number(run.bandwidthLastGbps, 1)} / ${number(run.bandwidthFirstGbps, 1)} Gbit/s)`,
      met: baseline ? null : judge(run.bandwidthRatio, (value) => value >= 0.9),
    });
  }
  for (const run of results.runs.filter((entry) => entry.services === services && !entry.error)) {
    const { maxRssMB } = runFigures(run);
    checks.push({ target: `agent RSS ≤ 150 MB (${run.backend}, peak)`, measured: `${number(maxRssMB, 0)} MB`, met: judge(maxRssMB, (value) => value <= 150) });
  }
  return checks;
}
