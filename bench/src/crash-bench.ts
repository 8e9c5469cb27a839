import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './options.js';
import { measureCrashRestart, type CrashRun } from './measure/crash-restart.js';
import type { CliBundle } from './process/bundle.js';
import { REPO_ROOT } from './process/paths.js';
import type { Resources } from './process/resources.js';
import { crashTable } from './report/crash-table.js';

/**
 * `npm run bench -- --crash`: kill -9 during syncs and restarts, per backend at each N (default
 * 5,000; bench/README.md). ipvs needs the IPVS VM, where this part does not run. Writes the raw
 * samples as JSON and prints the table RESULTS.md takes.
 */
export async function runCrashBench(options: BenchOptions, crashRuns: number, bundle: CliBundle, resources: Resources, prefix: string): Promise<number> {
  const runs: CrashRun[] = [];
  const skipped = options.backends.filter((backend) => backend.vm).map((backend) => backend.id);
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  if (skipped.length > 0) log(`skipped (no ip_vs on this kernel, and the crash part does not run in the IPVS VM): ${skipped.join(', ')}`);
  for (const services of options.sizes) {
    for (const backend of options.backends.filter((candidate) => !candidate.vm)) {
      log(`${backend.id} at ${services}: ${crashRuns} kills during a full sync, ${crashRuns} during a partial sync`);
      runs.push(await measureCrashRestart(backend, services, crashRuns, options.run.seed, bundle, resources, prefix, log));
      if (runs.at(-1)!.error) log(`${backend.id} at ${services} FAILED: ${runs.at(-1)!.error}`);
    }
  }
  const directory = options.outDir ?? join(REPO_ROOT, 'bench/results');
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')}-crash.json`);
  writeFileSync(file, JSON.stringify({ settings: { sizes: options.sizes, runs: crashRuns, seed: options.run.seed, skipped }, runs }, null, 1));
  process.stdout.write(`\n${crashTable(runs)}\n\nRaw results: ${file}\n`);
  const failed = runs.filter((run) => run.error || [...run.fullSync, ...run.partialSync, ...run.idle].some((sample) => sample.extra + sample.missing > 0 || sample.connectionsKept < sample.connections || sample.udpFlowsKept < sample.udpFlows));
  return failed.length > 0 ? 1 : 0;
}
