import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { DEFAULT_CONFIG, DryRunExecutor, createLogger, createProxy, type Batch } from '@kplane/core';
import iptables from '@kplane/backend-iptables';
import type { Resources } from '../process/resources.js';
import type { IpsetBaseline, RestoreBaseline } from '../report/results.js';
import { SERVICE_PORT, Workload } from '../workload.js';

const IPSET_SCRIPT = fileURLToPath(new URL('./ipset-baseline.mjs', import.meta.url));

/** A namespace of its own for one baseline, deleted afterwards (rules and sets go with it). */
async function inNamespace<T>(resources: Resources, name: string, measure: (namespace: string) => Promise<T>): Promise<T> {
  await execa('ip', ['netns', 'add', name]);
  const remove = resources.add(async () => void (await execa('ip', ['netns', 'delete', name], { reject: false })));
  try {
    return await measure(name);
  } finally {
    await remove();
  }
}

/** Per-entry `ipset add` execs (a sample of `perEntry`, the rest extrapolated in the report) vs one `ipset restore` of N entries. */
export async function measureIpset(services: number, perEntry: number, seed: number, resources: Resources, namespace: string): Promise<IpsetBaseline> {
  const workload = new Workload({ services, seed, changes: 0, fileEdits: 0 });
  const entries = workload.clusterIPs.map((ip) => `${ip},tcp:${SERVICE_PORT}`);
  const sample = Math.min(perEntry, services);
  const result = await inNamespace(resources, namespace, async (name) => {
    const { stdout } = await execa('ip', ['netns', 'exec', name, process.execPath, IPSET_SCRIPT], { input: JSON.stringify({ entries, perEntry: sample }) });
    return JSON.parse(stdout) as { perEntryMs: number; restoreMs: number };
  });
  return { services, perEntry: { entries: sample, ms: result.perEntryMs }, restore: { entries: services, ms: result.restoreMs } };
}

/**
 * The flat layout's full sync (IPv4) as one restore: what the backend sends in legacy mode (in nft
 * mode it splits a full sync into smaller restores), planned with a dry-run executor. The same text
 * serves every mode of `measureFlatRestore` at one N.
 */
export async function planFlatRestore(services: number, seed: number): Promise<Batch> {
  const executor = new DryRunExecutor();
  const { engine } = createProxy({
    config: { ...DEFAULT_CONFIG, backendOptions: new Map([['layout', 'flat'], ['mode', 'legacy']]) },
    executor,
    logger: createLogger('warn'),
  }, iptables);
  engine.handle(new Workload({ services, seed, changes: 0, fileEdits: 0 }).events());
  if (!(await engine.sync())) throw new Error('planning the flat layout failed');
  const batches = executor.batches.filter((candidate) => candidate.tool === 'iptables-legacy-restore');
  if (batches.length !== 1) throw new Error(`expected the flat layout's full sync as one iptables-legacy-restore, got ${batches.length}`);
  return batches[0]!;
}

/**
 * kube-proxy's update before 1.28: the whole flat layout (`planFlatRestore`) through one
 * `iptables-restore` on every change. It is restored once into an empty namespace, then again over
 * itself (the rewrite that was paid per change), with the tool of `mode`: with `--noflush`, as
 * kube-proxy did (it shares the nat table), or without (the table replaced whole, the fastest a full
 * rewrite can be). iptables-nft-restore 1.8.9 slows down superlinearly with a large `--noflush`
 * input, so each restore is given at most `capMs`.
 */
export async function measureFlatRestore(
  batch: Batch, mode: 'nft' | 'legacy', noflush: boolean, services: number, capMs: number, resources: Resources, namespace: string,
): Promise<RestoreBaseline> {
  return inNamespace(resources, namespace, async (name) => {
    /** The restore's time, or null when it did not finish within `capMs` (it is then stopped). */
    const restore = async (): Promise<number | null> => {
      const started = performance.now();
      const args = batch.args.filter((arg) => noflush || arg !== '--noflush');
      const result = await execa('ip', ['netns', 'exec', name, `iptables-${mode}-restore`, ...args], { input: batch.input, timeout: capMs, reject: false });
      if (result.timedOut) return null;
      if (result.failed) throw new Error(`iptables-${mode}-restore failed: ${result.stderr.trim().slice(0, 300)}`);
      return performance.now() - started;
    };
    const loadMs = await restore();
    const rewriteMs = loadMs === null ? null : await restore();
    return { mode, noflush, services, bytes: batch.input.length, loadMs, rewriteMs, capMs };
  });
}
