import type { SyncTiming } from '../agent/protocol.js';
import type { BenchBackend } from '../backends.js';
import type { RunSettings } from '../options.js';
import type { CliBundle } from '../process/bundle.js';
import { startAgent, startRequest, type AgentProcess } from '../process/agent-process.js';
import type { Resources } from '../process/resources.js';
import type { Progress } from '../progress.js';
import type { BackendRun, ChangeSample, FileSourceRun, SyncSample } from '../report/results.js';
import { BenchSandbox, type ProbeOutcome } from '../sandbox/bench-sandbox.js';
import { AFTER_PODS, BEFORE_PODS, SERVICE_PORT, Workload } from '../workload.js';
import { measureFileSource } from './file-source.js';
import { measureDatapath } from './datapath.js';

export interface RunContext {
  readonly resources: Resources;
  readonly agentBundle: string;
  readonly cliBundle: CliBundle;
  /** Namespace prefix, unique per run of the bench. */
  readonly prefix: string;
  readonly progress: Progress;
  readonly settings: RunSettings;
  readonly vm: boolean;
}

/** Longest wait for rules to go live: a full sync of a slow baseline at 50K services takes minutes. */
const FULL_SYNC_TIMEOUT_MS = 15 * 60_000;
const CHANGE_TIMEOUT_MS = 2 * 60_000;

let sandboxes = 0;

/**
 * One backend at one N, in a fresh sandbox with a fresh agent process: the full sync, single
 * changes, the datapath to the first and the last service, and (when asked) the file source end to
 * end. Any failure is recorded in the run, which then carries what it measured before.
 */
export async function measureBackend(backend: BenchBackend, services: number, withFileSource: boolean, context: RunContext): Promise<BackendRun> {
  const { resources, progress, settings } = context;
  const started = Date.now();
  const name = `${backend.id} at ${services}`;
  const run: { -readonly [K in keyof BackendRun]: BackendRun[K] } = { backend: backend.id, label: backend.label, services, vm: context.vm, seconds: 0 };
  const workload = new Workload({ services, seed: settings.seed, changes: settings.changes, fileEdits: withFileSource ? settings.fileEdits : 0 });
  const vip = (index: number): string => workload.clusterIPs[index]!;
  let sandbox: BenchSandbox | null = null;
  let agent: AgentProcess | null = null;
  try {
    progress.status(`${name}: building the sandbox`);
    sandbox = await BenchSandbox.create(resources, `${context.prefix}${++sandboxes}`);
    const prober = sandbox.prober;
    agent = await startAgent(resources, context.agentBundle, { namespace: sandbox.nodeNamespace, exposeGc: true });
    const idle = (await agent.request('start', startRequest(backend, false))).memory;

    progress.status(`${name}: full sync`);
    const [load, loadSeen] = await Promise.all([
      agent.request('load', { workload: workload.spec }),
      prober.request('until', { host: vip(workload.last), port: SERVICE_PORT, pods: BEFORE_PODS, timeoutMs: FULL_SYNC_TIMEOUT_MS, intervalMs: 5 }),
    ]);
    run.fullSync = { ...syncSample(load, loadSeen, `the full sync (last service ${vip(workload.last)})`), handleMs: (load.handledNs - load.startNs) / 1e6 };
    run.memory = { idleRssBytes: idle.rssBytes, afterFullSyncRssBytes: load.memory.rssBytes, afterChangesRssBytes: load.memory.rssBytes, maxRssBytes: load.memory.maxRssBytes };

    const changes: ChangeSample[] = [];
    run.changes = changes;
    const changesStarted = Date.now();
    for (const target of workload.changeTargets) {
      if (changes.length >= settings.minChanges && Date.now() - changesStarted > settings.changeBudgetMs) break;
      progress.status(`${name}: single change ${changes.length + 1}/${workload.changeTargets.length}`);
      const [timing, seen] = await Promise.all([
        agent.request('change', { target }),
        prober.request('until', { host: vip(target), port: SERVICE_PORT, pods: AFTER_PODS, timeoutMs: CHANGE_TIMEOUT_MS, intervalMs: 1 }),
      ]);
      changes.push({ ...syncSample(timing, seen, `the change of service ${target} (${vip(target)})`), service: target });
    }
    const memory = await agent.request('memory', {});
    run.memory = { ...run.memory, afterChangesRssBytes: memory.rssBytes, maxRssBytes: memory.maxRssBytes };

    Object.assign(run, await measureDatapath(sandbox, workload, settings, progress, name));
    await agent.stop();

    if (withFileSource) {
      progress.status(`${name}: file source end to end (kplane run --source file:)`);
      // A fresh node, without the agent's rules: the CLI's start to live is then a whole full sync of its own.
      await sandbox.destroy();
      sandbox = await BenchSandbox.create(resources, `${context.prefix}${++sandboxes}`);
      run.fileSource = await measureFileSource(sandbox, backend, workload, context.cliBundle, resources) satisfies FileSourceRun;
    }
  } catch (error) {
    run.error = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
    progress.log(`${name} failed: ${run.error}`);
  } finally {
    // A failed run's agent goes with its sandbox, not at the end of the bench.
    await agent?.stop();
    await sandbox?.destroy();
  }
  run.seconds = (Date.now() - started) / 1000;
  return run;
}

/** Joins the agent's account of a sync with what the prober saw; a probe that never saw the change is an error. */
function syncSample(timing: SyncTiming, seen: ProbeOutcome, what: string): SyncSample {
  if (!seen.ok) throw new Error(`${what} never went live (${seen.attempts} probes, last: ${JSON.stringify(seen.last)})`);
  if (seen.liveNs < timing.startNs) throw new Error(`${what}: a probe saw the new endpoints before the change entered the engine`);
  return {
    acceptedMs: (timing.syncedNs - timing.startNs) / 1e6,
    liveMs: (seen.liveNs - timing.startNs) / 1e6,
    previousProbeMs: seen.previousNs === null ? null : (seen.previousNs - timing.startNs) / 1e6,
    probes: seen.attempts,
    agentCpuMs: timing.usage.cpuUserMs + timing.usage.cpuSystemMs,
    toolCpuMs: timing.usage.toolCpuMs,
    batches: timing.batches,
    batchBytes: timing.batchBytes,
    tools: timing.tools,
  };
}
