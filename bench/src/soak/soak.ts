import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { NamespaceAgent, SANDBOX_NETWORK, kplaneListing, listingDifference } from '@kplane/conformance/sandbox';
import { cliFlags, type BenchBackend } from '../backends.js';
import type { CliBundle } from '../process/bundle.js';
import { REPO_ROOT } from '../process/paths.js';
import type { Resources } from '../process/resources.js';
import { BenchSandbox } from '../sandbox/bench-sandbox.js';
import { AFTER_PODS, BEFORE_PODS, SERVICE_PORT } from '../workload.js';
import { ChurnWorld } from './churn-world.js';

const SAMPLE_MS = 10_000;
/** Between rounds of connections: about 20 a second, which conntrack (every flow kept 2 min) holds for hours. */
const ROUND_PAUSE_MS = 200;
const SYNC_TIMEOUT_MS = 15 * 60_000;

export interface SoakSettings {
  readonly services: number;
  readonly minutes: number;
  readonly changesPerSecond: number;
  readonly seed: number;
}

export interface SoakResult {
  readonly backend: string;
  readonly services: number;
  readonly seconds: number;
  readonly changes: ChurnWorld['counts'];
  /** Connections to the services that never changed, and those that failed or reached another pod. */
  readonly connections: number;
  readonly failed: readonly string[];
  /** The agent's resident memory every SAMPLE_MS from the first sync (MiB). */
  readonly rssMiB: readonly number[];
  /** Lines of the kernel listing after the soak that a clean run of the final manifest lacks (leaked), and those it has that the soak lacks. */
  readonly leaked: readonly string[];
  readonly missing: readonly string[];
}

/**
 * `npm run bench -- --soak`: the real agent (`kplane run --source file:`) at `services` services,
 * its manifest rewritten every second with `changesPerSecond` changes (endpoint edits, Service adds
 * and deletes), while a client connects again and again to services that never change. Afterwards
 * the kernel listing is compared with a clean run of the final manifest on the same node.
 */
export async function runSoak(backend: BenchBackend, settings: SoakSettings, bundle: CliBundle, resources: Resources, prefix: string, log: (line: string) => void): Promise<SoakResult> {
  const sandbox = await BenchSandbox.create(resources, `${prefix}soak`);
  const directory = mkdtempSync(join(tmpdir(), 'kplane-soak-'));
  const removeDirectory = resources.add(async () => rmSync(directory, { recursive: true, force: true }));
  const client = await NamespaceAgent.start(sandbox.clientNamespace);
  const stopClient = resources.add(async () => client.stop());
  const file = join(directory, 'services.yaml');
  const write = (text: string): void => {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  };
  const world = new ChurnWorld(settings.services, settings.seed);
  try {
    write(world.manifests());
    let agent = await startAgent(sandbox, backend, bundle, file, resources);
    await live(sandbox, world.stableIPs.at(-1)!, BEFORE_PODS);
    log(`soak: ${backend.id} at ${settings.services} services synced; churning for ${settings.minutes} min`);

    const started = performance.now();
    const endAt = started + settings.minutes * 60_000;
    const rssMiB: number[] = [];
    const sampler = setInterval(() => rssMiB.push(residentMiB(agent.pid)), SAMPLE_MS);
    rssMiB.push(residentMiB(agent.pid));
    const probing = probeStable(client, world.stableIPs, () => performance.now() >= endAt);
    while (performance.now() < endAt) {
      const tick = performance.now();
      for (let change = 0; change < settings.changesPerSecond; change++) world.change();
      write(world.manifests());
      await sleep(Math.max(0, 1000 - (performance.now() - tick)));
    }
    const { connections, failed } = await probing;
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;
    // Every change written so far is live once a service added last answers.
    const marker = world.addMarker();
    write(world.manifests());
    await live(sandbox, marker, AFTER_PODS);
    const soaked = await kplaneListing(sandbox.nodeNamespace);
    await agent.stop();

    // The clean run: the same final manifest on a node with nothing of kplane's left.
    await execa('ip', ['netns', 'exec', sandbox.nodeNamespace, process.execPath, bundle.cli, 'cleanup', '--backend', backend.backend, '--log-level', 'warn'], { cwd: REPO_ROOT });
    agent = await startAgent(sandbox, backend, bundle, file, resources);
    await live(sandbox, marker, AFTER_PODS);
    const clean = await kplaneListing(sandbox.nodeNamespace);
    await agent.stop();
    const { extra, missing } = listingDifference(soaked, clean);
    return { backend: backend.id, services: settings.services, seconds, changes: { ...world.counts }, connections, failed, rssMiB, leaked: extra, missing };
  } finally {
    await stopClient();
    await removeDirectory();
    await sandbox.destroy();
  }
}

interface Agent {
  readonly pid: number;
  stop(): Promise<void>;
}

async function startAgent(sandbox: BenchSandbox, backend: BenchBackend, bundle: CliBundle, file: string, resources: Resources): Promise<Agent> {
  const child = spawn('ip', [
    'netns', 'exec', sandbox.nodeNamespace, process.execPath, bundle.cli, 'run',
    ...cliFlags(backend), '--backend-module', bundle.backendModules[backend.backend], '--source', `file:${file}`, '--node-name', SANDBOX_NETWORK.nodeName,
    ...SANDBOX_NETWORK.nodeIPs.flatMap((ip) => ['--node-ip', ip]), '--cluster-cidr', SANDBOX_NETWORK.clusterCIDRs.join(','),
    '--metrics-bind-address', '', '--log-level', 'warn',
  ], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  // `ip netns exec` execs the command: the child's pid is the agent's.
  return { pid: child.pid!, stop: resources.addProcess(child) };
}

/** Waits until `host` answers from one of `pods` (the rules of everything written before it are live). */
async function live(sandbox: BenchSandbox, host: string, pods: readonly string[]): Promise<void> {
  const seen = await sandbox.prober.request('until', { host, port: SERVICE_PORT, pods, timeoutMs: SYNC_TIMEOUT_MS, intervalMs: 20 });
  if (!seen.ok) throw new Error(`soak: ${host} never answered from ${pods.join(' or ')}: ${JSON.stringify(seen.last)}`);
}

/** Connections one after another, round the stable services, until `done`: each must reach pod a or b. */
async function probeStable(client: NamespaceAgent, hosts: readonly string[], done: () => boolean): Promise<{ connections: number; failed: string[] }> {
  let connections = 0;
  const failed: string[] = [];
  while (!done()) {
    for (const host of hosts) {
      const result = await client.tcp(host, SERVICE_PORT, { timeoutMs: 2000 });
      connections++;
      if (!result.ok) failed.push(`${host}: ${result.error}`);
      else if (!(BEFORE_PODS as readonly string[]).includes(result.answer.pod)) failed.push(`${host}: answered by pod ${result.answer.pod}`);
    }
    await sleep(ROUND_PAUSE_MS);
  }
  return { connections, failed };
}

function residentMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : Number.NaN;
}
