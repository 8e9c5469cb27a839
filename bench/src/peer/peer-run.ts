import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { JsonLinesProcess } from '../process/json-lines.js';
import type { Resources } from '../process/resources.js';
import type { Progress } from '../progress.js';
import type { RunSettings } from '../options.js';
import { BenchSandbox, type ProbeOutcome } from '../sandbox/bench-sandbox.js';
import { AFTER_PODS, BEFORE_PODS, SERVICE_PORT, Workload } from '../workload.js';
import type { ApiServerRequests } from './api-server-protocol.js';
import { KubeProxyProcess, type KubeProxyMode } from './kube-proxy.js';
import { measureDatapath } from '../measure/datapath.js';

const API_SERVER_SCRIPT = fileURLToPath(new URL('./api-server.ts', import.meta.url));
const FULL_SYNC_TIMEOUT_MS = 15 * 60_000;
const CHANGE_TIMEOUT_MS = 2 * 60_000;
const STARTUP_TIMEOUT_MS = 60_000;
/** kube-proxy's default --{iptables,nftables}-min-sync-period is 1 s: a change after a quiet second syncs at once. */
const QUIET_MS = 1100;
/** How long to wait, once a change is live, for kube-proxy's sync metric to count the sync that made it so. */
const SYNC_METRIC_WAIT_MS = 2000;

/** kube-proxy's syncs in a window as its metrics tell them (IPv4 and IPv6 proxiers summed): how many, and their summed duration. */
export interface PeerSyncs {
  readonly syncs: number;
  readonly syncMs: number;
}

export interface PeerRun {
  readonly peer: 'kube-proxy';
  readonly version: string;
  readonly mode: KubeProxyMode;
  readonly services: number;
  readonly error?: string;
  /** From the first of the N services' objects written into the fake API server to a probe reaching the last service. */
  readonly fullSync?: PeerSyncs & { readonly liveMs: number; readonly writesMs: number };
  /** Per change: from the EndpointSlice written to a probe reaching the new endpoints. */
  readonly changes?: readonly (PeerSyncs & { readonly service: number; readonly liveMs: number })[];
  readonly memory?: { readonly idleRssBytes: number; readonly afterChangesRssBytes: number; readonly maxRssBytes: number };
  readonly connect?: { readonly first: readonly number[]; readonly last: readonly number[] };
  readonly bandwidth?: { readonly first: readonly number[]; readonly last: readonly number[] };
  /** Requests the fake API server answered, by verb and resource. */
  readonly requests?: Readonly<Record<string, number>>;
  readonly seconds: number;
}

export interface PeerContext {
  readonly resources: Resources;
  readonly prefix: string;
  readonly progress: Progress;
  readonly settings: RunSettings;
  readonly binary: string;
  readonly version: string;
}

let sandboxes = 0;

/**
 * kube-proxy in one mode at one N, in a fresh sandbox as kplane's runs: the fake API server and
 * kube-proxy in the node namespace, kube-proxy first synced on the empty cluster (healthz 200),
 * then, after a quiet second, the workload's objects written and timed to live, then the same single changes as kplane's
 * (each after a quiet second, so that its min-sync-period does not count), then the datapath.
 */
export async function measurePeer(mode: KubeProxyMode, services: number, context: PeerContext): Promise<PeerRun> {
  const { resources, progress, settings } = context;
  const started = Date.now();
  const name = `kube-proxy ${mode} at ${services}`;
  const run: { -readonly [K in keyof PeerRun]: PeerRun[K] } = { peer: 'kube-proxy', version: context.version, mode, services, seconds: 0 };
  const workload = new Workload({ services, seed: settings.seed, changes: settings.changes, fileEdits: 0 });
  const vip = (index: number): string => workload.clusterIPs[index]!;
  let sandbox: BenchSandbox | null = null;
  let api: JsonLinesProcess<ApiServerRequests> | null = null;
  let proxy: KubeProxyProcess | null = null;
  try {
    progress.status(`${name}: building the sandbox`);
    sandbox = await BenchSandbox.create(resources, `${context.prefix}p${++sandboxes}`);
    api = await JsonLinesProcess.start<ApiServerRequests>('fake API server', 'ip', [
      'netns', 'exec', sandbox.nodeNamespace, process.execPath, '--conditions=kplane-source', '--import', 'tsx', API_SERVER_SCRIPT,
    ], resources);
    const { path: kubeconfig } = await api.request('kubeconfig', {});
    proxy = KubeProxyProcess.start(resources, context.binary, sandbox.nodeNamespace, kubeconfig, mode);
    await proxy.healthy(STARTUP_TIMEOUT_MS);
    const idle = proxy.memory();
    const proxyProcess = proxy;
    /** Runs `work`, then waits (a little) for the sync that made it live to end and be counted. */
    const syncsDuring = async <T>(work: () => Promise<T>): Promise<[T, PeerSyncs]> => {
      const before = await proxyProcess.syncMetrics();
      const result = await work();
      let after = await proxyProcess.syncMetrics();
      for (const waitUntil = performance.now() + SYNC_METRIC_WAIT_MS; after.count === before.count && performance.now() < waitUntil;) {
        await sleep(20);
        after = await proxyProcess.syncMetrics();
      }
      return [result, { syncs: after.count - before.count, syncMs: (after.sumS - before.sumS) * 1000 }];
    };

    progress.status(`${name}: full sync`);
    await sleep(QUIET_MS);
    const [[load, loadSeen], loadSyncs] = await syncsDuring(() => proxyProcess.unlessExited(Promise.all([
      api!.request('load', { workload: workload.spec }),
      sandbox!.prober.request('until', { host: vip(workload.last), port: SERVICE_PORT, pods: BEFORE_PODS, timeoutMs: FULL_SYNC_TIMEOUT_MS, intervalMs: 5 }),
    ])));
    run.fullSync = { liveMs: liveMs(load.startNs, loadSeen, `the full sync (last service ${vip(workload.last)})`, proxy), writesMs: (load.appliedNs - load.startNs) / 1e6, ...loadSyncs };

    const changes: NonNullable<PeerRun['changes']>[number][] = [];
    run.changes = changes;
    // The budget counts the changes' own time, not the quiet seconds between them: as many changes as kplane's runs.
    let spentMs = 0;
    for (const target of workload.changeTargets) {
      if (changes.length >= settings.minChanges && spentMs > settings.changeBudgetMs) break;
      progress.status(`${name}: single change ${changes.length + 1}/${workload.changeTargets.length}`);
      await sleep(QUIET_MS);
      const changeStarted = Date.now();
      const [[change, seen], syncs] = await syncsDuring(() => proxyProcess.unlessExited(Promise.all([
        api!.request('change', { target }),
        sandbox!.prober.request('until', { host: vip(target), port: SERVICE_PORT, pods: AFTER_PODS, timeoutMs: CHANGE_TIMEOUT_MS, intervalMs: 1 }),
      ])));
      changes.push({ service: target, liveMs: liveMs(change.startNs, seen, `the change of service ${target} (${vip(target)})`, proxy), ...syncs });
      spentMs += Date.now() - changeStarted;
    }
    const memory = proxy.memory();
    run.memory = { idleRssBytes: idle.rssBytes, afterChangesRssBytes: memory.rssBytes, maxRssBytes: memory.maxRssBytes };

    Object.assign(run, await measureDatapath(sandbox, workload, settings, progress, name));
    run.requests = (await api.request('requests', {})).counts;
  } catch (error) {
    run.error = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
    progress.log(`${name} failed: ${run.error}`);
  } finally {
    await proxy?.release();
    await api?.stop();
    await sandbox?.destroy();
  }
  run.seconds = (Date.now() - started) / 1000;
  return run;
}

function liveMs(startNs: number, seen: ProbeOutcome, what: string, proxy: KubeProxyProcess): number {
  if (!seen.ok) throw new Error(`${what} never went live (${seen.attempts} probes, last: ${JSON.stringify(seen.last)})\n${proxy.logTail()}`);
  if (seen.liveNs < startNs) throw new Error(`${what}: a probe saw the new endpoints before they were written`);
  return (seen.liveNs - startNs) / 1e6;
}
