import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SANDBOX_NETWORK } from '@kplane/conformance/sandbox';
import { cliFlags, type BenchBackend } from '../backends.js';
import type { CliBundle } from '../process/bundle.js';
import { REPO_ROOT } from '../process/paths.js';
import type { Resources } from '../process/resources.js';
import type { FileSourceRun } from '../report/results.js';
import type { BenchSandbox } from '../sandbox/bench-sandbox.js';
import { AFTER_PODS, BEFORE_PODS, SERVICE_PORT, type Workload } from '../workload.js';

const STARTUP_TIMEOUT_MS = 15 * 60_000;
const EDIT_TIMEOUT_MS = 5 * 60_000;
/** kplane's default --min-sync-period is 1 s: an edit after a quiet second syncs at once. */
const QUIET_MS = 1100;

/**
 * The real agent, `kplane run --source file:PATH` (bundled from the sources), on the workload's
 * YAML manifests in a sandbox whose node has no rules yet: from the process start to a probe
 * reaching the last service (every rule live) and to /healthz answering. Then each edit replaces
 * the file by rename (as editors save) and is timed until a probe reaches the new endpoints: file
 * watch, re-read and diff of the whole file, sync, rules live. Its memory is not measured here.
 */
export async function measureFileSource(sandbox: BenchSandbox, backend: BenchBackend, workload: Workload, bundle: CliBundle, resources: Resources): Promise<FileSourceRun> {
  const directory = mkdtempSync(join(tmpdir(), 'kplane-bench-'));
  const removeDirectory = resources.add(async () => rmSync(directory, { recursive: true, force: true }));
  const file = join(directory, 'services.yaml');
  writeFileSync(file, workload.manifests());
  const args = [
    'netns', 'exec', sandbox.nodeNamespace, process.execPath, bundle.cli, 'run',
    ...cliFlags(backend), '--backend-module', bundle.backendModules[backend.backend], '--source', `file:${file}`, '--node-name', SANDBOX_NETWORK.nodeName,
    ...SANDBOX_NETWORK.nodeIPs.flatMap((ip) => ['--node-ip', ip]), '--cluster-cidr', SANDBOX_NETWORK.clusterCIDRs.join(','),
    '--metrics-bind-address', '', '--log-level', 'warn',
  ];
  const live = sandbox.prober.request('until', {
    host: workload.clusterIPs[workload.last]!, port: SERVICE_PORT, pods: BEFORE_PODS, timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 5,
  });
  const startedNs = Number(process.hrtime.bigint());
  const started = performance.now();
  const agent = spawn('ip', args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const stopAgent = resources.addProcess(agent);
  let log = '';
  agent.stderr!.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8192)));
  // Every wait below also ends when the agent does, so a dead agent fails the row instead of hanging it.
  const exited = new Promise<never>((_, reject) => agent.once('close', (code, signal) => reject(new Error(`kplane run exited (${code ?? signal}): ${log.trim()}`))));
  exited.catch(() => {});
  const unlessExited = <T>(wait: Promise<T>): Promise<T> => Promise.race([wait, exited]);
  try {
    for (;;) {
      if ((await unlessExited(sandbox.nodeHttp('http://127.0.0.1:10256/healthz'))).status === 200) break;
      if (performance.now() - started > STARTUP_TIMEOUT_MS) throw new Error(`kplane run did not sync within ${STARTUP_TIMEOUT_MS / 1000}s: ${log.trim()}`);
      await sleep(100);
    }
    const startupMs = performance.now() - started;
    const seen = await unlessExited(live);
    if (!seen.ok) throw new Error(`kplane run synced, but the last service never went live: ${log.trim()}`);
    const liveMs = (seen.liveNs - startedNs) / 1e6;
    const edited = new Set<number>();
    const editLiveMs: number[] = [];
    for (const target of workload.fileTargets) {
      await sleep(QUIET_MS);
      edited.add(target);
      writeFileSync(`${file}.tmp`, workload.manifests(edited));
      const seen = sandbox.prober.request('until', {
        host: workload.clusterIPs[target]!, port: SERVICE_PORT, pods: AFTER_PODS, timeoutMs: EDIT_TIMEOUT_MS, intervalMs: 2,
      });
      const renamedNs = Number(process.hrtime.bigint());
      renameSync(`${file}.tmp`, file);
      const outcome = await unlessExited(seen);
      if (!outcome.ok) throw new Error(`the file edit of service ${target} never went live: ${log.trim()}`);
      editLiveMs.push((outcome.liveNs - renamedNs) / 1e6);
    }
    return { liveMs, startupMs, editLiveMs };
  } finally {
    await stopAgent();
    await removeDirectory();
  }
}
