import { execa } from 'execa';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dump } from 'js-yaml';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { KIT_PODS, KplaneProcess, RecordingShims, Sandbox, kplaneListing, listingDifference, udpFlowSourcePorts } from '@kplane/conformance/sandbox';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { cliFlags, type BenchBackend } from '../backends.js';
import type { CliBundle } from '../process/bundle.js';
import { REPO_ROOT } from '../process/paths.js';
import type { Resources } from '../process/resources.js';
import { SERVICE_PORT, Workload } from '../workload.js';

const SYNC_TIMEOUT_MS = 10 * 60_000;
/** The Service no change touches: TCP 80 and UDP 53 on pod a (10.96.0.1: no workload address, which start at .0.2). */
const STEADY = { ip: '10.96.0.1', tcp: 80, udp: 53 } as const;
/** Services whose endpoints the burst moves (pods a + b → c + d), all in one manifest edit. */
const BURST = 200;
const CONNECTIONS_PER_RUN = 4;
const UDP_FLOWS_PER_RUN = 4;

/** One restart after a kill -9: where the kill landed, how the restart went. */
export interface RestartSample {
  /** The kill came before the killed sync had finished (else it was late: counted, not a mid-sync kill). */
  readonly midSync: boolean;
  /** Tool batches of the killed sync started / finished before the kill. */
  readonly batchesStarted: number;
  readonly batchesDone: number;
  /** Lines of the restarted node's listing that a clean run lacks (stale, duplicate) and that it lacks (missing). */
  readonly extra: number;
  readonly missing: number;
  /** From the restarted process's start to its first sync done. */
  readonly restartMs: number;
  /** What the restart's first sync wrote: tool input bytes and lines, batches. */
  readonly bytes: number;
  readonly lines: number;
  readonly batches: number;
  /** Long-lived TCP connections to unchanged services open across the restart, and those that still carried data after it. */
  readonly connections: number;
  readonly connectionsKept: number;
  /** UDP conntrack flows of the unchanged service before the kill, and still listed after the restart. */
  readonly udpFlows: number;
  readonly udpFlowsKept: number;
  readonly syncErrors: number;
}

export interface CrashRun {
  readonly backend: string;
  readonly services: number;
  /** A clean run on a fresh node: its full sync's time and what it wrote. */
  readonly clean: { readonly syncMs: number; readonly bytes: number; readonly lines: number; readonly batches: number; readonly partialSyncMs: number; readonly partialBatchMs: number };
  /** kill -9 at a random moment of the first full sync of a fresh node. */
  readonly fullSync: RestartSample[];
  /** kill -9 at a random moment of the partial sync of a burst of endpoint changes. */
  readonly partialSync: RestartSample[];
  /** kill -9 of an idle agent, restarted over a kernel that already matches its manifest. */
  readonly idle: RestartSample[];
  readonly error?: string;
}

interface Reference {
  readonly listing: string[];
}

/**
 * kill -9 of the real agent (`kplane run --source file:`, bundled) during a full sync and during
 * a partial sync, then a restart on the kernel state it left, per backend at N services (see
 * bench/README.md): each restart's listing against a clean run of the same manifest in a fresh
 * namespace, long-lived TCP connections and UDP conntrack flows of an unchanged service across the
 * restart, and what the restart's first sync wrote (recording shims of the tools).
 */
export async function measureCrashRestart(backend: BenchBackend, services: number, runs: number, seed: number, bundle: CliBundle, resources: Resources, prefix: string, progress: (line: string) => void): Promise<CrashRun> {
  const directory = mkdtempSync(join(tmpdir(), 'kplane-bench-crash-'));
  const removeDirectory = resources.add(async () => rmSync(directory, { recursive: true, force: true }));
  const shims = new RecordingShims();
  const removeShims = resources.add(async () => shims.remove());
  const rng = xoroshiro128plus(seed);
  const draw = (min: number, max: number): number => uniformInt(rng, min, max);
  const workload = new Workload({ services, seed, changes: 0, fileEdits: 0 });
  const burst = new Set<number>();
  while (burst.size < Math.min(BURST, services - 2)) burst.add(draw(1, services - 2));
  const manifests = { base: manifestText(workload, new Set()), moved: manifestText(workload, burst) };
  const file = join(directory, 'services.yaml');
  const flags = [...cliFlags(backend), '--backend-module', bundle.backendModules[backend.backend]];
  const start = (namespace: string): KplaneProcess => {
    const agent = KplaneProcess.start({ namespace, command: [process.execPath, bundle.cli], cwd: REPO_ROOT, flags, manifest: file, path: shims.path });
    resources.add(() => agent.stop());
    return agent;
  };
  /** The batches the shims saw from `fromMs` to `toMs`. */
  const written = (fromMs: number, toMs: number) => {
    const calls = shims.calls().filter((call) => call.startMs >= fromMs && call.startMs <= toMs && (call.bytes ?? 0) > 0);
    return { bytes: sum(calls.map((call) => call.bytes ?? 0)), lines: sum(calls.map((call) => call.lines ?? 0)), batches: calls.length };
  };
  let serial = 0;
  const bareNamespace = async (): Promise<{ name: string; remove: () => Promise<void> }> => {
    const name = `${prefix}crash${serial++}`;
    await execa('ip', ['netns', 'add', name]);
    await execa('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return { name, remove: resources.add(async () => void (await execa('ip', ['netns', 'delete', name], { reject: false }))) };
  };

  try {
    // Clean runs, each on a fresh node: the base manifest (timing a full and a partial sync), the moved one.
    save(file, manifests.base);
    const reference = await bareNamespace();
    const cleanAgent = start(reference.name);
    await cleanAgent.synced(1, SYNC_TIMEOUT_MS);
    const cleanSync = cleanAgent.syncs()[0]!;
    const firstBatch = shims.calls().find((call) => call.startMs >= cleanAgent.startedMs)!;
    const cleanWritten = written(cleanAgent.startedMs, cleanSync.time);
    const expected: Record<'base' | 'moved', Reference> = { base: { listing: await kplaneListing(reference.name) }, moved: { listing: [] } };
    // Past the minimum sync period, so that the edit syncs at once, as in the bench's file-source row.
    await sleep(1100);
    const editedMs = Date.now();
    save(file, manifests.moved);
    await cleanAgent.synced(2, SYNC_TIMEOUT_MS);
    const partialSyncMs = cleanAgent.syncs()[1]!.time - editedMs;
    const partialBatchMs = Math.round(cleanAgent.syncs()[1]!.time - (shims.calls().find((call) => call.startMs >= editedMs)?.startMs ?? editedMs));
    await cleanAgent.stop();
    await reference.remove();
    const movedReference = await bareNamespace();
    const movedAgent = start(movedReference.name);
    await movedAgent.synced(1, SYNC_TIMEOUT_MS);
    expected.moved = { listing: await kplaneListing(movedReference.name) };
    await movedAgent.stop();
    await movedReference.remove();
    const clean = { syncMs: cleanSync.time - cleanAgent.startedMs, ...cleanWritten, partialSyncMs, partialBatchMs };
    const fullWindowMs = cleanSync.time - firstBatch.startMs;
    progress(`${backend.id}: clean full sync ${(clean.syncMs / 1000).toFixed(2)} s (${clean.bytes} bytes), partial ${partialSyncMs} ms (${partialBatchMs} ms from its first batch)`);

    /** Restarts the agent on the namespace's kernel state and compares it with the clean run of `state`. */
    const restart = async (namespace: string, state: 'base' | 'moved', killed: { midSync: boolean; batchesStarted: number; batchesDone: number }) => {
      const agent = start(namespace);
      await agent.synced(1, SYNC_TIMEOUT_MS);
      const sync = agent.syncs()[0]!;
      const { extra, missing } = listingDifference(await kplaneListing(namespace), expected[state].listing);
      return {
        agent,
        sample: { ...killed, extra: extra.length, missing: missing.length, restartMs: sync.time - agent.startedMs, ...written(agent.startedMs, sync.time), syncErrors: agent.errors().length },
      };
    };
    /** Where a kill at `killMs` landed in a sync whose process started at `sinceMs`. */
    const landing = (agent: KplaneProcess, syncsBefore: number, sinceMs: number, killMs: number) => {
      const calls = shims.calls().filter((call) => call.startMs >= sinceMs && call.startMs <= killMs);
      return { midSync: agent.syncs().length === syncsBefore, batchesStarted: calls.length, batchesDone: calls.filter((call) => call.endMs !== null && call.endMs <= killMs).length };
    };

    const fullSync: RestartSample[] = [];
    save(file, manifests.base);
    for (let run = 0; run < runs; run++) {
      const node = await bareNamespace();
      const agent = start(node.name);
      const sinceMs = agent.startedMs;
      // A random moment from the first batch to the end of a full sync as long as the clean one.
      while (!shims.calls().some((call) => call.startMs >= sinceMs) && agent.syncs().length === 0) await sleep(2);
      await sleep(draw(0, Math.max(1, Math.round(fullWindowMs))));
      const killMs = Date.now();
      await agent.kill();
      const { agent: restarted, sample } = await restart(node.name, 'base', landing(agent, 0, sinceMs, killMs));
      fullSync.push({ ...sample, connections: 0, connectionsKept: 0, udpFlows: 0, udpFlowsKept: 0 });
      await restarted.stop();
      await node.remove();
      progress(`${backend.id}: full-sync kill ${run + 1}/${runs}: ${describe(fullSync.at(-1)!)}`);
    }

    // Partial syncs, in a sandbox whose client keeps connections open to the unchanged services.
    const sandbox = await Sandbox.create(KIT_PODS, `${prefix}crash${serial++}`);
    const destroySandbox = resources.add(() => sandbox.destroy());
    const partialSync: RestartSample[] = [];
    const idle: RestartSample[] = [];
    try {
      let state: 'base' | 'moved' = 'base';
      save(file, manifests[state]);
      let agent = start(sandbox.nodeNamespace);
      await agent.synced(1, SYNC_TIMEOUT_MS);
      const targets = [STEADY.ip, STEADY.ip, workload.clusterIPs[workload.first]!, workload.clusterIPs[workload.last]!];
      for (let run = 0; run < runs; run++) {
        const keys = targets.slice(0, CONNECTIONS_PER_RUN).map((_, index) => `run${run}-${index}`);
        const opened = await Promise.all(keys.map((keep, index) => sandbox.client.tcp(targets[index]!, SERVICE_PORT, { keep, timeoutMs: 5000 })));
        const sourcePorts = Array.from({ length: UDP_FLOWS_PER_RUN }, (_, index) => 40_000 + run * UDP_FLOWS_PER_RUN + index);
        for (const sourcePort of sourcePorts) {
          await sandbox.client.udp(STEADY.ip, STEADY.udp, { sourcePort });
          await sandbox.client.udp(STEADY.ip, STEADY.udp, { sourcePort });
        }
        const traffic = async (): Promise<{ connections: number; connectionsKept: number; udpFlows: number; udpFlowsKept: number }> => {
          const answers = await Promise.all(keys.map((keep, index) => (opened[index]!.ok ? sandbox.client.send(keep, 5000) : Promise.resolve({ ok: false }))));
          const flows = new Set(await udpFlowSourcePorts(sandbox.nodeNamespace, STEADY.ip, STEADY.udp));
          return { connections: keys.length, connectionsKept: answers.filter((answer) => answer.ok).length, udpFlows: sourcePorts.length, udpFlowsKept: sourcePorts.filter((port) => flows.has(port)).length };
        };
        const udpBefore = new Set(await udpFlowSourcePorts(sandbox.nodeNamespace, STEADY.ip, STEADY.udp));
        if (!sourcePorts.every((port) => udpBefore.has(port))) throw new Error(`the UDP flows of run ${run} are not in conntrack before any kill`);

        // An idle agent, killed and restarted over a kernel that already matches its manifest.
        await agent.kill();
        const idleRestart = await restart(sandbox.nodeNamespace, state, { midSync: false, batchesStarted: 0, batchesDone: 0 });
        idle.push({ ...idleRestart.sample, ...(await traffic()) });
        agent = idleRestart.agent;

        // A burst of endpoint changes, and the kill at a random moment of its sync: from the edit
        // (reading, diffing, planning, writing) in even runs, from its first batch in odd ones.
        await sleep(1100);
        state = state === 'base' ? 'moved' : 'base';
        const syncsBefore = agent.syncs().length;
        const sinceMs = Date.now();
        save(file, manifests[state]);
        if (run % 2 === 1) {
          while (!shims.calls().some((call) => call.startMs >= sinceMs) && agent.syncs().length === syncsBefore) await sleep(1);
        }
        await sleep(draw(0, Math.max(1, run % 2 === 1 ? partialBatchMs : partialSyncMs)));
        const killMs = Date.now();
        await agent.kill();
        const partialRestart = await restart(sandbox.nodeNamespace, state, landing(agent, syncsBefore, sinceMs, killMs));
        partialSync.push({ ...partialRestart.sample, ...(await traffic()) });
        agent = partialRestart.agent;
        for (const keep of keys) await sandbox.client.close(keep);
        progress(`${backend.id}: partial-sync kill ${run + 1}/${runs}: idle restart ${describe(idle.at(-1)!)}; partial ${describe(partialSync.at(-1)!)}`);
      }
      await agent.stop();
    } finally {
      await destroySandbox();
    }
    return { backend: backend.id, services, clean, fullSync, partialSync, idle };
  } catch (error) {
    return { backend: backend.id, services, clean: { syncMs: 0, bytes: 0, lines: 0, batches: 0, partialSyncMs: 0, partialBatchMs: 0 }, fullSync: [], partialSync: [], idle: [], error: error instanceof Error ? error.message.slice(0, 2000) : String(error) };
  } finally {
    await removeShims();
    await removeDirectory();
  }
}

/** The workload's manifest (`moved` services on pods c + d) and the steady Service, TCP and UDP on pod a. */
function manifestText(workload: Workload, moved: ReadonlySet<number>): string {
  const pod = KIT_PODS.find((candidate) => candidate.name === 'a')!;
  const steady = [
    serviceObject('steady', { clusterIPs: [STEADY.ip], ports: [{ name: 'http', port: STEADY.tcp, targetPort: 8080 }, { name: 'dns', port: STEADY.udp, targetPort: 5353, protocol: 'UDP' }] }),
    endpointSliceObject('steady', { ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ ip: pod.ipv4, nodeName: pod.nodeName }] }),
  ];
  return [workload.manifests(moved), ...steady.map((object) => dump(object, { noRefs: true }))].join('---\n');
}

/** Saves as editors do: a new file renamed over the old one. */
function save(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function describe(sample: RestartSample): string {
  const converged = sample.extra === 0 && sample.missing === 0 ? 'converged' : `DIFFERS (+${sample.extra} -${sample.missing})`;
  return `${sample.midSync ? `mid-sync (${sample.batchesDone}/${sample.batchesStarted} batches done)` : 'after the sync'}, ${converged}, restart ${Math.round(sample.restartMs)} ms, ${sample.bytes} bytes, tcp ${sample.connectionsKept}/${sample.connections}, udp ${sample.udpFlowsKept}/${sample.udpFlows}`;
}
