/**
 * `npm run bench`: every backend side by side in one run on this machine, as the service count
 * grows (see bench/README.md). `--quick` is the smoke test `npm test` runs; `--inner` is the same
 * bench running inside the IPVS VM for the ipvs backend.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release } from 'node:os';
import { join } from 'node:path';
import type { Batch } from '@kplane/core';
import { PLANNER_BACKENDS } from './backends.js';
import { measureBackend, type RunContext } from './measure/backend-run.js';
import { measureControlPlane } from './measure/control-plane.js';
import { measureFileLoad } from './measure/file-load.js';
import { VM_RESULTS_FILE, measureInVm } from './measure/ipvs-vm.js';
import { describeMachine } from './measure/machine.js';
import { measureFlatRestore, measureIpset, planFlatRestore } from './measure/tool-baselines.js';
import { parseOptions, type BenchOptions } from './options.js';
import { bundleAgent, bundleCli } from './process/bundle.js';
import { Resources } from './process/resources.js';
import { WORK, createProgress } from './progress.js';
import { runFigures } from './report/figures.js';
import { datapathTable, syncTable } from './report/markdown.js';
import type { BackendRun, BenchResults, ControlPlaneRun, FileLoadRun, IpsetBaseline, RestoreBaseline, VmPart } from './report/results.js';
import { checkTargets, targetServices } from './report/targets.js';
import { runCrashBench } from './crash-bench.js';
import { runSoak } from './soak/soak.js';
import { peerWork, runPeerBench, writePeerReport } from './peer/peer-bench.js';
import { soakHeld, soakReport } from './soak/soak-report.js';

const MODES = ['nft', 'legacy'] as const;

function summary(run: BackendRun): string {
  if (run.error) return `${run.backend} at ${run.services}: FAILED`;
  const f = runFigures(run);
  return `${run.backend} at ${run.services}: full sync ${f.fullSyncLiveS.toFixed(2)} s, change p50 ${f.changeP50Ms.toFixed(1)} ms (${Math.round(run.seconds)} s)`;
}

async function main(options: BenchOptions): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('the bench builds network namespaces and programs their rules: run it as root');
  if (options.inner && !options.outDir) throw new Error('--inner needs --out');
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const started = Date.now();
  const measured = options.backends.filter((backend) => backend.vm === options.inner);
  const withVm = !options.inner && options.vm;
  const sum = (sizes: readonly number[], work: (services: number) => number): number => sizes.reduce((total, services) => total + work(services), 0);
  const total = measured.length * sum(options.sizes, (services) => WORK.run(services, options.inner))
    + (options.inner ? 0 : (PLANNER_BACKENDS.length + 2 + 2 * MODES.length) * sum(options.sizes, WORK.step))
    + (withVm ? sum(options.vmSizes, (services) => WORK.run(services, true)) : 0)
    + (options.inner ? 0 : peerWork(options));
  const progress = createProgress(total, options.inner ? 'json' : 'terminal');
  const resources = new Resources();
  resources.releaseOnSignals(() => progress.stop());
  try {
    if (options.soakMinutes !== null) return await soak(options, resources, (line) => progress.log(line));
    // Not inside the VM: its runs are reported by the host, and every file the description reads crosses 9p there.
    const machine = options.inner ? null : await describeMachine();
    progress.status('bundling the agent from the sources');
    const agentBundle = await bundleAgent();
    resources.add(async () => rmSync(agentBundle, { force: true }));
    const cliBundle = await bundleCli();
    resources.add(async () => rmSync(cliBundle.directory, { recursive: true, force: true }));
    const prefix = `kpb${randomBytes(2).toString('hex')}-`;
    if (options.crashRuns !== null) {
      progress.stop();
      return await runCrashBench(options, options.crashRuns, cliBundle, resources, prefix);
    }
    const context: RunContext = { resources, agentBundle, cliBundle, prefix, progress, settings: options.run, vm: options.inner };

    const runs: BackendRun[] = [];
    for (const services of options.sizes) {
      for (const backend of measured) {
        const withFileSource = services === options.sizes[0] || backend.id === 'nft';
        runs.push(await measureBackend(backend, services, withFileSource, context));
        progress.advance(summary(runs.at(-1)!), WORK.run(services, options.inner));
      }
    }
    if (options.inner) {
      mkdirSync(options.outDir!, { recursive: true });
      writeFileSync(join(options.outDir!, VM_RESULTS_FILE), JSON.stringify({ kernel: release(), runs }));
      return runs.some((run) => run.error) ? 1 : 0;
    }
    const peer = options.peer ? await runPeerBench(options, resources, prefix, progress) : null;

    const failures: string[] = [];
    /** One measurement step: its result, or null with the failure recorded (the bench goes on). */
    const step = async <T>(what: string, services: number, measure: () => Promise<T>): Promise<T | null> => {
      progress.status(what);
      try {
        return await measure();
      } catch (error) {
        failures.push(`${what}: ${(error instanceof Error ? error.message : String(error)).slice(0, 600)}`);
        progress.log(`${what} failed: ${failures.at(-1)}`);
        return null;
      } finally {
        progress.advance(what, WORK.step(services));
      }
    };
    const controlPlane: ControlPlaneRun[] = [];
    for (const services of options.sizes) {
      for (const backend of PLANNER_BACKENDS) {
        const run = await step(`control plane: ${backend.label} planner at ${services}`, services,
          () => measureControlPlane(backend, services, options.planRepeats, options.run.seed, resources, agentBundle));
        if (run) controlPlane.push(run);
      }
    }
    const fileLoad: FileLoadRun[] = [];
    for (const services of options.sizes) {
      const run = await step(`file source: a YAML manifest of ${services} services, read and planned`, services,
        () => measureFileLoad(services, options.run.seed, options.planRepeats, cliBundle, resources));
      if (run) fileLoad.push(run);
    }
    const ipset: IpsetBaseline[] = [];
    const iptablesRestore: RestoreBaseline[] = [];
    for (const services of options.sizes) {
      const baseline = await step(`baseline: ipset at ${services}`, services,
        () => measureIpset(services, options.ipsetPerEntrySample, options.run.seed, resources, `${prefix}tools`));
      if (baseline) ipset.push(baseline);
      // Planned once per N, inside the first step that needs it (a failure is then that step's).
      let flat: Promise<Batch> | undefined;
      for (const mode of MODES) {
        for (const noflush of [true, false]) {
          const restore = await step(`baseline: flat iptables-${mode}-restore${noflush ? ' --noflush' : ''} at ${services}`, services,
            async () => measureFlatRestore(await (flat ??= planFlatRestore(services, options.run.seed)), mode, noflush, services, options.restoreCapMs, resources, `${prefix}tools`));
          if (restore) iptablesRestore.push(restore);
        }
      }
    }
    const vm: VmPart = withVm
      ? await measureInVm({ sizes: options.vmSizes, seed: options.run.seed, quick: options.quick, timeoutS: options.quick ? 420 : 1500 }, progress, resources)
      : { available: false, reason: options.backends.some((backend) => backend.vm) ? '--no-vm' : 'ipvs was not asked for', runs: [] };
    progress.stop();

    const results: BenchResults = {
      startedAt,
      finishedAt: new Date().toISOString(),
      seconds: (Date.now() - started) / 1000,
      settings: { ...options, backends: options.backends.map((backend) => backend.id) },
      machine: { ...machine!, loadAtEnd: loadavg().map((load) => Number(load.toFixed(2))) },
      runs,
      vm,
      controlPlane,
      fileLoad,
      baselines: { ipset, iptablesRestore },
      failures,
    };
    // Loaded only here: vega is large, and inside the VM (which never reports) every file read crosses 9p.
    const { writeReport } = await import('./report/write.js');
    const written = await writeReport(results, options.outDir);
    const services = targetServices(results);
    const atTarget = runs.filter((run) => run.services === services);
    const targets = checkTargets(results).map((check) => `- ${check.met === null ? '(comparison)' : check.met ? 'met' : 'MISSED'}: ${check.target}: ${check.measured}`);
    process.stdout.write([
      ...(atTarget.length > 0 ? ['', `## ${services!.toLocaleString('en-US')} services`, '', syncTable(atTarget), '', datapathTable(atTarget)] : []),
      '', '## Targets', '', ...targets, '',
      `Report: ${written.markdown}`, `Raw results: ${written.json}`, `Charts: ${written.charts.join(', ')}`, '',
    ].join('\n'));
    if (peer) {
      const report = writePeerReport(peer, runs, written.json);
      appendFileSync(written.markdown, `\n## kplane vs kube-proxy\n\n${report.table}\n`);
      process.stdout.write(`## kplane vs kube-proxy\n\n${report.table}\n\nkube-proxy: ${report.markdown}, ${report.json}\n`);
    }
    const failed = [...runs, ...vm.runs].filter((run) => run.error).map((run) => `${run.backend} at ${run.services}`);
    if (peer?.error) failed.push(`kube-proxy (${peer.error.slice(0, 200)})`);
    failed.push(...(peer?.runs ?? []).filter((run) => run.error).map((run) => `kube-proxy ${run.mode} at ${run.services}`));
    if (vm.available && vm.reason) failed.push(`the IPVS VM (${vm.reason})`);
    failed.push(...failures);
    if (failed.length > 0) process.stderr.write(`bench: failed: ${failed.join(', ')}\n`);
    return failed.length > 0 ? 1 : 0;
  } finally {
    progress.stop();
    await resources.releaseAll();
  }
}

/** `--soak`: the soak alone, per native backend asked for, at the first size. */
async function soak(options: BenchOptions, resources: Resources, log: (line: string) => void): Promise<number> {
  const cliBundle = await bundleCli();
  resources.add(async () => rmSync(cliBundle.directory, { recursive: true, force: true }));
  const prefix = `kpb${randomBytes(2).toString('hex')}-`;
  let held = true;
  for (const backend of options.backends.filter((candidate) => !candidate.vm)) {
    const result = await runSoak(backend, { services: options.sizes[0]!, minutes: options.soakMinutes!, changesPerSecond: 10, seed: options.run.seed }, cliBundle, resources, prefix, log);
    process.stdout.write(`${soakReport(result)}\n`);
    held &&= soakHeld(result);
  }
  return held ? 0 : 1;
}

main(parseOptions(process.argv.slice(2))).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
