/**
 * Measures the agent as deployed (`kplane run --source kubernetes`, its own process) against the
 * fake API server holding N Services with 5 EndpointSlices each: the time from process start to the
 * first successful sync (/healthz 200), and the agent's memory after it. An empty cluster gives the
 * baseline. The backend is the JSON-lines example plugin, so the figures are the source's and the
 * engine's, not a kernel's.
 *
 *   npx tsx packages/core/test/kubernetes/initial-sync.measure.ts [services] [--dist]
 *
 * With --dist the agent is the built CLI (`npm run build -w packages/core` first), as deployed;
 * without, it runs from the TypeScript sources through tsx, which adds its own memory. Arguments
 * after `--` go to the agent (`-- --kube-api-qps 1000`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { fillCluster, NODE } from './harness.js';
import { freePort } from '../support/loopback.js';

const ROOT = new URL('../../../../', import.meta.url).pathname;

/** Kibibytes of a /proc/PID/status field (VmRSS: now, VmHWM: peak). */
function memoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith(`${field}:`));
  return Number(line?.split(/\s+/)[1]);
}

async function measure(services: number, dist: boolean) {
  const server = await FakeApiServer.start();
  const endpoints = fillCluster(server, services, 5, 2) * services;
  const port = await freePort();
  const state = join(mkdtempSync(join(tmpdir(), 'kplane-measure-')), 'state.jsonl');
  const startedAt = performance.now();
  const cli = dist ? ['packages/core/bin/kplane.js'] : ['--conditions=kplane-source', '--import', 'tsx', 'packages/core/src/cli/main.ts'];
  const probe = ['--expose-gc', '--import', new URL('./memory-probe.mjs', import.meta.url).pathname];
  const agent = spawn(process.execPath, [
    ...probe, ...cli, 'run',
    '--source', 'kubernetes', '--kubeconfig', server.writeKubeconfig(), '--node-name', NODE, '--node-ip', '127.0.0.1',
    '--backend-module', './examples/custom-backend', '--backend-opt', `file=${state}`,
    '--healthz-bind-address', `127.0.0.1:${port}`, '--metrics-bind-address', '', '--log-level', 'debug', ...agentArgs,
  ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: { msg?: string; ms?: number; full?: boolean; heapUsed?: number; rss?: number }[] = [];
  createInterface(agent.stderr!).on('line', (line) => logs.push(JSON.parse(line) as (typeof logs)[number]));
  try {
    for (;;) {
      if (agent.exitCode !== null) throw new Error(`the agent exited with ${agent.exitCode}`);
      const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false);
      if (healthy) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const startToFirstSyncMs = Math.round(performance.now() - startedAt);
    const listMs = logs.find((log) => log.msg?.startsWith('initial lists'))?.ms;
    const firstSyncMs = logs.find((log) => log.msg === 'synced' && log.full)?.ms;
    // Let the garbage of the initial lists be collected as it would be in a running agent.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const rssMiB = memoryKiB(agent.pid!, 'VmRSS') / 1024;
    const peakRssMiB = memoryKiB(agent.pid!, 'VmHWM') / 1024;
    agent.kill('SIGUSR2');
    while (!logs.some((log) => log.msg === 'memory')) await new Promise((resolve) => setTimeout(resolve, 10));
    const afterGc = logs.find((log) => log.msg === 'memory')!;
    const synced = readFileSync(state, 'utf8').split('\n').filter((line) => line.includes('"op":"set"')).length;
    return {
      services, endpointSlices: services * 5, endpoints, syncedPorts: synced, startToFirstSyncMs, listMs, firstSyncMs,
      rssMiB, peakRssMiB, heapUsedAfterGcMiB: afterGc.heapUsed! / 2 ** 20, rssAfterGcMiB: afterGc.rss! / 2 ** 20,
    };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));
    await server.stop();
  }
}

const separator = process.argv.indexOf('--');
const agentArgs = separator < 0 ? [] : process.argv.slice(separator + 1);
const dist = process.argv.includes('--dist');
const services = Number(process.argv.slice(2, separator < 0 ? undefined : separator).find((arg) => !arg.startsWith('--')) ?? 1000);
const results = [await measure(0, dist), await measure(services, dist)];
process.stdout.write(`${JSON.stringify(results, (key, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 10) / 10 : value), 2)}\n`);
