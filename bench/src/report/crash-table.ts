import type { CrashRun, RestartSample } from '../measure/crash-restart.js';
import { median } from './stats.js';

/**
 * The crash/restart figures as a markdown table: per backend and kind of kill, the runs, where the
 * kills landed, exact convergence, connections and UDP flows across the restart, the restart's time
 * to its first sync and what that sync wrote.
 */
export function crashTable(runs: readonly CrashRun[]): string {
  const rows = [
    '| backend | N | kill -9 during | runs (mid-sync; after a batch began) | converged exactly | TCP kept / broken | UDP flows kept | restart to first sync, median (max) | first sync after restart wrote, median |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const run of runs) {
    if (run.error) {
      rows.push(`| ${run.backend} | ${run.services} | FAILED: ${run.error.split('\n')[0]!.replace(/\|/g, '/').slice(0, 200)} | | | | | | |`);
      continue;
    }
    const kinds: [string, readonly RestartSample[]][] = [['first full sync', run.fullSync], ['partial sync (burst)', run.partialSync], ['nothing (idle, kernel matches)', run.idle]];
    for (const [kind, samples] of kinds) {
      const count = (predicate: (sample: RestartSample) => boolean): number => samples.filter(predicate).length;
      const kept = samples.reduce((total, sample) => total + sample.connectionsKept, 0);
      const connections = samples.reduce((total, sample) => total + sample.connections, 0);
      const flowsKept = samples.reduce((total, sample) => total + sample.udpFlowsKept, 0);
      const flows = samples.reduce((total, sample) => total + sample.udpFlows, 0);
      const restart = samples.map((sample) => sample.restartMs / 1000);
      rows.push([
        '', run.backend, run.services, kind,
        kind.startsWith('nothing') ? `${samples.length}` : `${samples.length} (${count((sample) => sample.midSync)}; ${count((sample) => sample.midSync && sample.batchesStarted > 0)})`,
        `${count((sample) => sample.extra === 0 && sample.missing === 0)} / ${samples.length}`,
        connections === 0 ? '—' : `${kept} / ${connections - kept}`,
        flows === 0 ? '—' : `${flowsKept} / ${flows}`,
        `${median(restart).toFixed(2)} s (${Math.max(...restart).toFixed(2)} s)`,
        `${kib(median(samples.map((sample) => sample.bytes)))} in ${median(samples.map((sample) => sample.batches))} batches (clean start: ${kib(run.clean.bytes)})`,
        '',
      ].join(' | ').trim());
    }
  }
  return rows.join('\n');
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
