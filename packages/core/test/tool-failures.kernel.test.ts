import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_NETWORK, Sandbox } from '@kplane/conformance/sandbox';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { endpointSliceObject, serviceObject } from '../src/testing/index.js';
import { CLI, ROOT, faultShims, type FaultMode } from './support/cli.js';

/**
 * The real agent (`kplane run --source file:`) in a sandbox's node namespace, with a fault shim of
 * its tool first on PATH: while the tool fails or hangs, traffic keeps the old rules, the failure
 * is counted, logged by tool and stderr, and /healthz turns 503; once the tool works again the
 * change goes live and /healthz is 200. ipvs (ipvsadm, ipset) needs the ip_vs module: its run is
 * in the IPVS VM, not here. Needs root.
 */
const SERVICE_IP = '10.96.8.1';
const HEALTHZ_TIMEOUT_MS = 1500;
const METRICS = 'http://127.0.0.1:10249/metrics';
const HEALTHZ = 'http://127.0.0.1:10256/healthz';

interface Agent {
  readonly child: ChildProcess;
  /** The agent's JSON log lines so far. */
  logs(): Record<string, unknown>[];
}

const agents: Agent[] = [];
const sandboxes: Sandbox[] = [];

afterEach(async () => {
  for (const { child } of agents.splice(0)) {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(null)));
  }
  for (const sandbox of sandboxes.splice(0)) await sandbox.destroy();
});

/** A Service `name` at `ip` whose one endpoint is the sandbox's `pod`. */
function service(sandbox: Sandbox, name: string, ip: string, pod: string): Record<string, unknown>[] {
  return [
    serviceObject(name, { clusterIPs: [ip], ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
    endpointSliceObject(name, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: sandbox.pod(pod).ipv4, nodeName: sandbox.pod(pod).nodeName }] }),
  ];
}

/** Writes the manifest (web, served by `pod`, and `others`) as an editor saves: a new file renamed over the old one. */
function writeManifest(file: string, pod: string, sandbox: Sandbox, others: readonly Record<string, unknown>[] = []): void {
  const objects = [...service(sandbox, 'web', SERVICE_IP, pod), ...others];
  writeFileSync(`${file}.new`, objects.map((object) => JSON.stringify(object)).join('\n---\n'));
  renameSync(`${file}.new`, file);
}

function startAgent(sandbox: Sandbox, backend: string, manifest: string, path: string, args: readonly string[]): Agent {
  const child = spawn('ip', ['netns', 'exec', sandbox.nodeNamespace, ...CLI, 'run', '--backend', backend, '--source', `file:${manifest}`,
    '--node-name', SANDBOX_NETWORK.nodeName, ...SANDBOX_NETWORK.nodeIPs.flatMap((ip) => ['--node-ip', ip]), '--cluster-cidr', SANDBOX_NETWORK.clusterCIDRs.join(','),
    '--min-sync-period', '100ms', '--healthz-timeout', `${HEALTHZ_TIMEOUT_MS}ms`, '--tool-timeout', '1s',
    '--metrics-bind-address', '127.0.0.1:10249', '--healthz-bind-address', '127.0.0.1:10256', ...args], { cwd: ROOT, env: { ...process.env, PATH: path }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const agent = {
    child,
    logs: () => stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>),
  };
  agents.push(agent);
  return agent;
}

async function answering(sandbox: Sandbox): Promise<string> {
  const result = await sandbox.client.tcp(SERVICE_IP, 80, { timeoutMs: 1000 });
  return result.ok ? result.answer.pod : `no answer: ${result.error}`;
}

async function healthz(sandbox: Sandbox): Promise<number | undefined> {
  return (await sandbox.node.http(HEALTHZ)).status;
}

/** A counter of the agent's, scraped from its metrics port. */
async function counter(sandbox: Sandbox, name: string): Promise<number> {
  const { body = '' } = await sandbox.node.http(METRICS);
  return Number(new RegExp(`^${name}\\{backend="[^"]+"\\} (\\d+)$`, 'm').exec(body)?.[1] ?? 0);
}

const partialFailures = (sandbox: Sandbox) => counter(sandbox, 'kplane_partial_sync_failures_total');

/**
 * Moves the Service's endpoint from `from` to `to` while the shim is in `mode`, checks what must
 * hold during the fault, then lets the tool work again and checks the recovery.
 */
async function faultThenRecover(setup: { sandbox: Sandbox; agent: Agent; manifest: string; shims: ReturnType<typeof faultShims> }, fault: { mode: FaultMode; tool: string; from: string; to: string; logged: string }): Promise<void> {
  const { sandbox, agent, manifest, shims } = setup;
  const failuresBefore = await partialFailures(sandbox);
  const logsBefore = agent.logs().length;
  shims.setMode(fault.mode);
  writeManifest(manifest, fault.to, sandbox);
  await vi.waitFor(async () => expect(await partialFailures(sandbox)).toBe(failuresBefore + 1), { timeout: 10_000, interval: 100 });
  await vi.waitFor(async () => expect(await healthz(sandbox)).toBe(503), { timeout: HEALTHZ_TIMEOUT_MS + 5000, interval: 100 });
  // The old rules are intact: every connection reaches the old endpoint.
  for (let attempt = 0; attempt < 5; attempt++) expect(await answering(sandbox)).toBe(fault.from);
  const failure = agent.logs().slice(logsBefore).find((log) => log.level === 50 && log.tool === fault.tool);
  expect(failure).toMatchObject({ msg: expect.stringContaining('sync failed'), full: false, stderr: expect.stringContaining(fault.logged), batch: { command: expect.stringContaining(fault.tool) } });
  shims.setMode('pass');
  await vi.waitFor(async () => expect(await answering(sandbox)).toBe(fault.to), { timeout: 15_000, interval: 200 });
  await vi.waitFor(async () => expect(await healthz(sandbox)).toBe(200), { timeout: 5000, interval: 100 });
  // Only the first failed sync was partial; the retries were full.
  expect(await partialFailures(sandbox)).toBe(failuresBefore + 1);
}

async function setUp(backend: string, patterns: Record<string, string>, more: { others?: (sandbox: Sandbox) => Record<string, unknown>[]; args?: readonly string[] } = {}) {
  const sandbox = await Sandbox.create();
  sandboxes.push(sandbox);
  const manifest = join(mkdtempSync(join(tmpdir(), 'kplane-tool-failures-')), 'manifest.yaml');
  const others = more.others?.(sandbox) ?? [];
  writeManifest(manifest, 'a', sandbox, others);
  const shims = faultShims(patterns);
  const agent = startAgent(sandbox, backend, manifest, shims.path, more.args ?? []);
  await vi.waitFor(async () => expect(await answering(sandbox)).toBe('a'), { timeout: 20_000, interval: 200 });
  expect(await healthz(sandbox)).toBe(200);
  return { sandbox, agent, manifest, shims, others };
}

describe('kplane run when its tool fails or hangs (real agent, fault shims, sandbox namespaces)', () => {
  it('nft: `nft -f -` exits 1, then hangs past --tool-timeout; the old rules keep serving, and each change goes live once nft works again', { timeout: 60_000 }, async () => {
    const setup = await setUp('nft', { nft: '"-f -"' });
    await faultThenRecover(setup, { mode: 'fail', tool: 'nft', from: 'a', to: 'b', logged: 'nft: injected failure (kplane fault shim)' });
    await faultThenRecover(setup, { mode: 'hang', tool: 'nft', from: 'b', to: 'c', logged: 'timed out after 1 s and was killed' });
  });

  it('iptables: iptables-restore (both variants) exits 1; the old rules keep serving, and the change goes live once it works again', { timeout: 60_000 }, async () => {
    const restore = '*--noflush*';
    const setup = await setUp('iptables', { 'iptables-nft-restore': restore, 'iptables-legacy-restore': restore });
    const variant = (setup.agent.logs().find((log) => typeof log.mode === 'string')?.mode as string | undefined) ?? 'nft';
    await faultThenRecover(setup, { mode: 'fail', tool: `iptables-${variant}-restore`, from: 'a', to: 'b', logged: `iptables-${variant}-restore: injected failure (kplane fault shim)` });
  });

  it('nft: one element transaction of a split full sync fails; the old generation keeps serving, and the next full sync leaves one generation', { timeout: 60_000 }, async () => {
    // 1,500 more Services: a full sync of more than 1,000 elements is split (setup, element transactions, swap).
    const bulk = (sandbox: Sandbox) => Array.from({ length: 1500 }, (_, i) => service(sandbox, `bulk-${i}`, `10.96.${10 + Math.floor(i / 250)}.${(i % 250) + 1}`, 'c')).flat();
    const { sandbox, agent, manifest, shims, others } = await setUp('nft', { nft: '"-f -"' }, { others: bulk, args: ['--backend-opt', 'transaction-elements=1000', '--backend-opt', 'parallel-transactions=1'] });
    // Call 1: the partial sync of the change; then the full sync: 2, its setup, passes; 3, its first element transaction, fails.
    shims.setMode({ failCalls: [1, 3] });
    writeManifest(manifest, 'b', sandbox, others);
    await vi.waitFor(() => expect(shims.intercepted()).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 50 });
    for (let attempt = 0; attempt < 5; attempt++) expect(await answering(sandbox)).toBe('a');
    await vi.waitFor(() => expect(agent.logs().filter((log) => log.level === 50 && log.tool === 'nft').map((log) => log.full)).toEqual([false, true]), { timeout: 5000, interval: 50 });
    await vi.waitFor(async () => expect(await answering(sandbox)).toBe('b'), { timeout: 15_000, interval: 200 });
    // The retry was a split full sync too: its setup, at least two element transactions and the swap.
    expect(shims.intercepted()).toBeGreaterThanOrEqual(7);
    expect(await partialFailures(sandbox)).toBe(1);
    expect(await counter(sandbox, 'kplane_backend_sync_errors_total')).toBe(2);
    // Nothing of the refused generation is left beside the live one.
    const generations = new Set([...(await sandbox.inNode('nft', ['-t', 'list', 'table', 'ip', 'kplane'])).matchAll(/-g(\d+)\b/g)].map((match) => match[1]));
    expect(generations.size).toBe(1);
    expect((await sandbox.client.tcp('10.96.15.250', 80)).ok).toBe(true);
  });
});
