import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch, ContainerModule, Executor, Query, SourceEvent } from '@kplane/core';
import { FakeClock, testProxy, validateEndpointSlice, validateService } from '@kplane/core/testing';
import iptables from '@kplane/backend-iptables';
import nft from '@kplane/backend-nft';
import { NetnsExecutor } from '../../src/index.js';
import { NODE_CONFIG } from './fake-backends.js';
import { hostileEvent } from './hostile-objects.js';

/**
 * The real tools' word on plans made from hostile input (issue 15, item 4): SAMPLE generated
 * Services the intake accepts (whole or in part), with their accepted slices, planned by each
 * backend's own plugin in a network namespace of this test's own. Every batch is first checked
 * (`nft -c -f -`, `iptables-restore --test`) and then applied, so the next one is checked against
 * the state it was planned for. ipvs is not here: its tools (ipvsadm, ipset, the dummy device)
 * are checked for real in the IPVS VM (packages/backend-ipvs/test/*.vm.test.ts).
 */
const SAMPLE = 200;
const PER_SYNC = 50;
const run = promisify(execFile);

/** Whether the intake takes an upsert (whole or in part), and for a Service, with a port to program. */
function accepted(event: SourceEvent): boolean {
  if (event.action !== 'upsert') return false;
  if (event.kind !== 'Service') return validateEndpointSlice(event.object, event.origin).ok;
  const result = validateService(event.object, event.origin);
  return result.ok && result.value.ports.length > 0;
}

/** SAMPLE accepted Services with ports and the accepted slices generated among them, in generation order. */
function sample(seed: number): SourceEvent[] {
  const events: SourceEvent[] = [];
  let services = 0;
  for (const event of fc.sample(hostileEvent, { numRuns: 20 * SAMPLE, seed })) {
    if (!accepted(event)) continue;
    if (event.action === 'upsert' && event.kind === 'Service' && ++services > SAMPLE) break;
    events.push(event);
  }
  return events;
}

/** The check-only form of a batch that writes rules (null for other tools). */
function checkOf(batch: Batch): Batch | null {
  if (batch.tool === 'nft') return { ...batch, args: ['-c', ...batch.args] };
  if (/^ip6?tables-(nft|legacy)-restore$/.test(batch.tool)) return { ...batch, args: [...batch.args, '--test'] };
  return null;
}

/** Runs every batch in the namespace after its check passed; counts the checks. */
class CheckingExecutor implements Executor {
  readonly live = true;
  readonly checked: string[] = [];

  constructor(private readonly inner: NetnsExecutor) {}

  async apply(batch: Batch): Promise<void> {
    const check = checkOf(batch);
    if (check) {
      await this.inner.apply(check);
      this.checked.push(check.tool);
    }
    await this.inner.apply(batch);
  }

  read(query: Query): Promise<string> {
    return this.inner.read(query);
  }
}

/** Name, plugin, --backend-opt, the tool whose checks must have run. */
const BACKENDS: readonly [string, ContainerModule, Record<string, string>, RegExp][] = [
  ['nft', nft, {}, /^nft$/],
  ['iptables-nft, tree', iptables, { mode: 'nft', layout: 'tree' }, /^ip6?tables-nft-restore$/],
  ['iptables-nft, flat', iptables, { mode: 'nft', layout: 'flat' }, /^ip6?tables-nft-restore$/],
  ['iptables-legacy, tree', iptables, { mode: 'legacy', layout: 'tree' }, /^ip6?tables-legacy-restore$/],
];

describe.each(BACKENDS)('%s: the real tools accept plans of hostile input', (_, plugin, options, tool) => {
  const namespace = `kpfz-${randomBytes(3).toString('hex')}`;
  beforeAll(async () => {
    await run('ip', ['netns', 'add', namespace]);
    await run('ip', ['netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up']);
  });
  afterAll(async () => {
    await run('ip', ['netns', 'del', namespace]);
  });

  it(`checks and applies every batch for ${SAMPLE} accepted generated Services and their slices`, async () => {
    const events = sample(Number(process.env.FUZZ_SEED ?? 15));
    const executor = new CheckingExecutor(new NetnsExecutor(namespace));
    const clock = new FakeClock();
    const proxy = testProxy(plugin, { config: { ...NODE_CONFIG, backendOptions: new Map(Object.entries(options)) }, executor, clock });
    await proxy.start([]);
    for (let from = 0; from < events.length; from += PER_SYNC) await proxy.sync(events.slice(from, from + PER_SYNC));
    // The periodic full resync of all of it, over the rules already there.
    await clock.advance(NODE_CONFIG.syncPeriodMs);
    await proxy.sync([]);
    // Later Services replace earlier ones of the same name (the generators' names come from small pools).
    expect(proxy.engine.desiredState.size).toBeGreaterThan(SAMPLE / 4);
    expect(executor.checked.filter((name) => tool.test(name)).length).toBeGreaterThan(events.length / PER_SYNC);
  });
});
