/** `--peer kube-proxy`: the real kube-proxy at every N of the run, in each mode, and its report beside kplane's. */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { BenchOptions } from '../options.js';
import type { Resources } from '../process/resources.js';
import { WORK, type Progress } from '../progress.js';
import type { BackendRun } from '../report/results.js';
import { buildKubeProxy, type KubeProxyMode } from './kube-proxy.js';
import { peerTable } from './peer-report.js';
import { measurePeer, type PeerRun } from './peer-run.js';

export const PEER_MODES: readonly KubeProxyMode[] = ['nftables', 'iptables'];

export interface PeerPart {
  readonly version: string | null;
  /** Why kube-proxy was not measured (its build failed, with the error). */
  readonly error?: string;
  readonly runs: readonly PeerRun[];
  /** Load averages (1, 5, 15 min) before and after the peer's runs. */
  readonly load: { readonly atStart: readonly number[]; readonly atEnd: readonly number[] };
}

/** Work units of the peer's runs, for the progress estimate. */
export function peerWork(options: BenchOptions): number {
  return options.peer ? PEER_MODES.length * options.sizes.reduce((total, services) => total + WORK.run(services, false), 0) : 0;
}

export async function runPeerBench(options: BenchOptions, resources: Resources, prefix: string, progress: Progress): Promise<PeerPart> {
  const atStart = loadNow();
  let built: { binary: string; version: string };
  try {
    progress.status('kube-proxy: build (cached after the first run)');
    built = await buildKubeProxy((line) => progress.log(line));
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).slice(-3000);
    progress.log(`kube-proxy could not be built: ${message}`);
    return { version: null, error: `build failed: ${message}`, runs: [], load: { atStart, atEnd: loadNow() } };
  }
  const runs: PeerRun[] = [];
  for (const services of options.sizes) {
    for (const mode of PEER_MODES) {
      const run = await measurePeer(mode, services, { resources, prefix, progress, settings: options.run, ...built });
      runs.push(run);
      progress.advance(run.error ? `kube-proxy ${mode} at ${services}: FAILED`
        : `kube-proxy ${mode} at ${services}: full sync ${(run.fullSync!.liveMs / 1000).toFixed(2)} s (${Math.round(run.seconds)} s)`, WORK.run(services, false));
    }
  }
  return { version: built.version, runs, load: { atStart, atEnd: loadNow() } };
}

/** Writes the peer's raw runs (JSON) and its comparison table (Markdown) beside the run's JSON; returns the table. */
export function writePeerReport(part: PeerPart, kplane: readonly BackendRun[], jsonPath: string): { table: string; json: string; markdown: string } {
  const json = jsonPath.replace(/\.json$/, '-kube-proxy.json');
  const markdown = jsonPath.replace(/\.json$/, '-kube-proxy.md');
  const table = part.error ? `kube-proxy was not measured: ${part.error}` : [
    `${part.version}; load average ${part.load.atStart.join(' ')} at the start of its runs, ${part.load.atEnd.join(' ')} at the end.`,
    '',
    peerTable(part.runs, kplane),
  ].join('\n');
  writeFileSync(json, JSON.stringify(part, null, 2));
  writeFileSync(markdown, `${table}\n`);
  return { table, json, markdown };
}

function loadNow(): number[] {
  return loadavg().map((load) => Number(load.toFixed(2)));
}
