import { execa } from 'execa';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KplaneProcess, RecordingShims, Sandbox, kplaneListing, listingDifference, udpFlowSourcePorts } from '@kplane/conformance/sandbox';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject } from '../src/testing/index.js';
import { CLI, ROOT } from './support/cli.js';

/**
 * kill -9 of the real agent (`kplane run --source file:`) in the middle of a full sync and of a
 * partial sync, then a restart on the kernel state it left: the restart converges to exactly what a
 * clean run of the same manifest writes in a fresh namespace (normalised listings: nothing stale,
 * duplicate or missing), an established TCP connection to a Service that did not change keeps
 * carrying data, and its UDP conntrack entries stay (kubernetes#122740). The kill points are batch
 * boundaries, set by recording shims of the tools: before a batch runs, and after the tool applied
 * it but before the agent heard; one more partial kill lands on a timer. Correctness only; the bench (`--crash`) times it at 5,000 Services.
 * Needs root.
 */
const SERVICES = 300;
const STEADY_IP = '10.96.0.1';
const SYNC_TIMEOUT_MS = 20_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** The steady Service (TCP 80 and UDP 53 on pod a, never changed) and SERVICES others on fake pods, `moved` of them on other fake pods. */
function manifest(sandbox: Sandbox, moved: boolean): string {
  const pod = sandbox.pod('a');
  const objects = [
    serviceObject('steady', { clusterIPs: [STEADY_IP], ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }] }),
    endpointSliceObject('steady', { ports: [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ ip: pod.ipv4, nodeName: pod.nodeName }] }),
  ];
  for (let i = 0; i < SERVICES; i++) {
    // The burst: a third of the Services get new endpoints.
    const host = moved && i % 3 === 0 ? 200 : 100;
    // Four endpoints each: more than 1,000 elements, so that nft's full sync is split (see the nft case).
    const endpoints = [0, 1, 2, 3].map((n) => ({ ip: `10.128.${i % 250}.${host + n}` }));
    objects.push(
      serviceObject(`bulk-${i}`, { clusterIPs: [`10.96.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`], ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
      endpointSliceObject(`bulk-${i}`, { ports: [{ name: 'http', port: 8080 }], endpoints }),
    );
  }
  return objects.map((object) => JSON.stringify(object)).join('\n---\n');
}

/** Saves the manifest as an editor does: a new file renamed over the old one. */
function save(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

function start(namespace: string, flags: readonly string[], file: string, shims?: RecordingShims): KplaneProcess {
  const agent = KplaneProcess.start({ namespace, command: CLI, cwd: ROOT, flags, manifest: file, ...(shims && { path: shims.path }) });
  cleanups.push(() => agent.stop());
  return agent;
}

/** The listing of a clean run of `text` in a namespace of its own. */
async function cleanListing(prefix: string, flags: readonly string[], text: string): Promise<string[]> {
  const namespace = `${prefix}-clean`;
  await execa('ip', ['netns', 'add', namespace]);
  cleanups.push(async () => void (await execa('ip', ['netns', 'delete', namespace], { reject: false })));
  const file = join(mkdtempSync(join(tmpdir(), 'kplane-restart-')), 'manifest.yaml');
  save(file, text);
  const agent = start(namespace, flags, file);
  await agent.synced(1, SYNC_TIMEOUT_MS);
  const listing = await kplaneListing(namespace);
  await agent.stop();
  await execa('ip', ['netns', 'delete', namespace]);
  return listing;
}

type KillPoint = Parameters<RecordingShims['killAgentAt']>[0] & object;

/** Partial syncs are one batch per tool call: killed before it runs, and after the tool applied it but before the agent heard. */
const PARTIAL_POINTS: readonly KillPoint[] = [{ call: 1, when: 'before' }, { call: 1, when: 'after' }];

/**
 * `unknown` makes the node's rules something a restart does not take as its own (the first sync
 * after a restart writes only what differs from rules it recognises): before each full-sync kill
 * but the first (a fresh node), so that the agent killed there runs a full rewrite.
 */
async function restartCheck(backend: string, flags: readonly string[], fullPoints: readonly KillPoint[], unknown: (sandbox: Sandbox) => Promise<unknown>): Promise<void> {
  const sandbox = await Sandbox.create();
  cleanups.push(() => sandbox.destroy());
  const directory = mkdtempSync(join(tmpdir(), 'kplane-restart-'));
  cleanups.push(async () => rmSync(directory, { recursive: true, force: true }));
  const file = join(directory, 'manifest.yaml');
  const shims = new RecordingShims();
  cleanups.push(async () => shims.remove());
  const expected = { base: await cleanListing(sandbox.prefix, flags, manifest(sandbox, false)), moved: await cleanListing(sandbox.prefix, flags, manifest(sandbox, true)) };
  let moved = false;
  save(file, manifest(sandbox, moved));

  let agent: KplaneProcess | undefined;
  const restart = async (): Promise<void> => {
    shims.killAgentAt(null);
    agent = start(sandbox.nodeNamespace, flags, file, shims);
    await agent.synced(1, SYNC_TIMEOUT_MS);
    const { extra, missing } = listingDifference(await kplaneListing(sandbox.nodeNamespace), expected[moved ? 'moved' : 'base']);
    // Counts and the first lines of each (a listing line can hold a whole map).
    const head = (lines: string[]) => lines.slice(0, 3).map((line) => line.slice(0, 300));
    expect({ extra: extra.length, missing: missing.length, first: [...head(extra), ...head(missing)] }, `${backend}: the restart's rules against a clean run`).toEqual({ extra: 0, missing: 0, first: [] });
  };

  // Full syncs: the first sync of a fresh node, then the full syncs of restarts over the rules already there.
  for (const point of fullPoints) {
    // The agent of the last restart goes the same way, idle (kill -9 too: nothing may depend on a clean exit).
    await agent?.kill();
    if (agent) await unknown(sandbox);
    shims.killAgentAt(point);
    const killed = start(sandbox.nodeNamespace, flags, file, shims);
    await expect(killed.synced(1, SYNC_TIMEOUT_MS)).rejects.toThrow(/exited/);
    expect(killed.signal, `${backend}: killed at ${point.when} batch ${point.call} of a full sync`).toBe('SIGKILL');
    await restart();
  }

  const connection = await sandbox.client.tcp(STEADY_IP, 80, { keep: 'steady' });
  expect(connection.ok).toBe(true);
  const sourcePorts = [40001, 40002];
  for (const sourcePort of sourcePorts) expect((await sandbox.client.udp(STEADY_IP, 53, { sourcePort })).ok).toBe(true);
  expect((await udpFlowSourcePorts(sandbox.nodeNamespace, STEADY_IP, 53)).sort()).toEqual(sourcePorts);

  // Partial syncs: a third of the Services' endpoints change at once, back and forth.
  for (const point of PARTIAL_POINTS) {
    shims.killAgentAt(point);
    moved = !moved;
    save(file, manifest(sandbox, moved));
    const killed = agent!;
    await expect(killed.synced(2, SYNC_TIMEOUT_MS)).rejects.toThrow(/exited/);
    expect(killed.signal, `${backend}: killed at ${point.when} batch ${point.call} of a partial sync`).toBe('SIGKILL');
    expect(killed.syncs().map((sync) => sync.full)).toEqual([true]);
    await restart();
    expect(await sandbox.client.send('steady'), `${backend}: the connection to the steady Service after the restart`).toMatchObject({ ok: true, answer: { pod: 'a' } });
    expect((await udpFlowSourcePorts(sandbox.nodeNamespace, STEADY_IP, 53)).sort(), `${backend}: UDP flows of the steady Service after the restart`).toEqual(sourcePorts);
  }
  // One more partial kill mid-sync at a moment no batch boundary marks: while the agent reads, diffs and plans.
  moved = !moved;
  const killed = agent!;
  save(file, manifest(sandbox, moved));
  await new Promise((resolve) => setTimeout(resolve, 30));
  await killed.kill();
  await restart();
  expect(await sandbox.client.send('steady')).toMatchObject({ ok: true, answer: { pod: 'a' } });
  expect((await udpFlowSourcePorts(sandbox.nodeNamespace, STEADY_IP, 53)).sort()).toEqual(sourcePorts);

  // kill -9 of an idle agent, then a restart over rules that match: its first sync writes nothing.
  await agent!.kill();
  const before = shims.calls().length;
  await restart();
  // (iptables' `-restore --version` at start-up goes through the shims too, with no input.)
  expect(shims.calls().slice(before).filter((call) => call.bytes !== 0), `${backend}: batches of a restart over a kernel that matches`).toEqual([]);
}

describe('kill -9 of kplane run during a sync, then a restart on the same kernel (sandbox namespaces)', () => {
  it('nft: converges exactly to a clean run; the steady connection and UDP flows survive', { timeout: 90_000 }, async () => {
    // Split full syncs (setup, element transactions one at a time, swap): kills leave part of a generation behind.
    const split = ['--backend-opt', 'transaction-elements=1000', '--backend-opt', 'parallel-transactions=1'];
    await restartCheck('nft', ['--backend', 'nft', ...split], [{ call: 1, when: 'after' }, { call: 2, when: 'before' }, { call: 3, when: 'after' }],
      // A base chain without its jump: not the layout kplane writes.
      (sandbox) => sandbox.inNode('nft', ['flush', 'chain', 'ip', 'kplane', 'nat-postrouting']));
  });

  // Legacy mode is in the bench's crash run (one restore per family, as here in nft mode at this size).
  it('iptables (nft mode, tree layout): converges exactly to a clean run; the steady connection and UDP flows survive', { timeout: 90_000 }, async () => {
    // A full sync is one restore per family: killed before the first, between the two, and once both ran.
    await restartCheck('iptables', ['--backend', 'iptables', '--backend-opt', 'mode=nft'], [{ call: 1, when: 'before' }, { call: 1, when: 'after' }, { call: 2, when: 'after' }],
      // Both families without their masquerade hook: a hook missing is a full rewrite.
      (sandbox) => Promise.all(['iptables-nft', 'ip6tables-nft'].map((tool) => sandbox.inNode(tool, ['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'kplane masquerade', '-j', 'KPLANE-POSTROUTING']))));
  });
});
