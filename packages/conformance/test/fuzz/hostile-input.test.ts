import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProxyMetrics, SourceEvent } from '@kplane/core';
import { validateEndpointSlice, validateService } from '@kplane/core/testing';
import { FAKE_BACKENDS, NODE_CONFIG, type FakeBackend } from './fake-backends.js';
import { hostileEvent, manyEndpoints, manyPorts } from './hostile-objects.js';
import { MARKER } from './hostile-values.js';

/**
 * Issue 15, item 4: hostile Services and EndpointSlices through core's engine into each backend's
 * fake client (which parses exactly the text that would be written and refuses what the kernel
 * would). Each run is a fresh node: SYNCS partial syncs of EVENTS events, then a full resync.
 * FUZZ_SEED=<seed> replays a failure fast-check reported; FUZZ_RUNS=<n> fuzzes longer.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const SYNCS = 4;
const EVENTS = 30;

interface Counts {
  services: number;
  slices: number;
  deletes: number;
  accepted: number;
  partial: number;
  refused: number;
  /** Objects taken (whole or in part) with a hostile string somewhere in them: what the leak check bites on. */
  markedAndTaken: number;
}

/** Whether the intake takes the object whole, in part, or not at all (what its validation says). */
function outcome(event: SourceEvent): 'accepted' | 'partial' | 'refused' | null {
  if (event.action === 'delete') return null;
  const result = event.kind === 'Service' ? validateService(event.object, event.origin) : validateEndpointSlice(event.object, event.origin);
  if (!result.ok) return 'refused';
  return result.value.skipped.length > 0 ? 'partial' : 'accepted';
}

async function total(counter: ProxyMetrics['rejectedObjects']): Promise<number> {
  return (await counter.get()).values.reduce((sum, { value }) => sum + value, 0);
}

/** The marker in any text handed to a tool: object text copied into rules. */
function leaked(texts: readonly string[]): string | undefined {
  return texts.find((text) => text.includes(MARKER));
}

/** One sync of `events`: it must succeed (the fake accepted every batch) and write no object text. */
async function syncOnce(backend: FakeBackend, events: readonly SourceEvent[]): Promise<void> {
  backend.proxy.engine.handle(events);
  expect(await backend.proxy.engine.sync()).toBe(true);
  expect(leaked(backend.takeTexts())).toBeUndefined();
}

let unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe.each(Object.keys(FAKE_BACKENDS))('%s under hostile input', (name) => {
  const make = FAKE_BACKENDS[name]!;

  it(`survives ${RUNS * SYNCS * EVENTS} generated objects: every sync succeeds, refusals are counted, no object text reaches a tool`, async ({ annotate }) => {
    const started = Date.now();
    unhandled = [];
    const counts: Counts = { services: 0, slices: 0, deletes: 0, accepted: 0, partial: 0, refused: 0, markedAndTaken: 0 };
    const history = fc.array(fc.array(hostileEvent, { minLength: EVENTS, maxLength: EVENTS }), { minLength: SYNCS, maxLength: SYNCS });
    await fc.assert(fc.asyncProperty(history, async (syncs) => {
      const backend = make();
      await backend.proxy.backend.init();
      let refused = 0;
      for (const events of syncs) {
        for (const event of events) {
          const result = outcome(event);
          if (result === null) counts.deletes++;
          else {
            counts[result]++;
            if (event.kind === 'Service') counts.services++;
            else counts.slices++;
            if (result === 'refused') refused++;
            else if (event.action === 'upsert' && JSON.stringify(event.object).includes(MARKER)) counts.markedAndTaken++;
          }
        }
        await syncOnce(backend, events);
      }
      // The periodic full resync rebuilds everything accepted from scratch: the fake must take it too.
      await backend.clock.advance(NODE_CONFIG.syncPeriodMs);
      await syncOnce(backend, []);
      expect(await total(backend.proxy.metrics.rejectedObjects)).toBe(refused);
    }), { numRuns: RUNS, endOnFailure: true, ...(process.env.FUZZ_SEED && { seed: Number(process.env.FUZZ_SEED) }) });
    expect(unhandled).toEqual([]);
    expect(counts.services + counts.slices).toBeGreaterThanOrEqual(10_000);
    // Each outcome must occur often, or the generators have drifted away from what they test.
    for (const result of ['accepted', 'partial', 'refused', 'markedAndTaken'] as const) expect(counts[result]).toBeGreaterThan(1000);
    await annotate(`${JSON.stringify(counts)} in ${Date.now() - started} ms`);
  }, RUNS * 600);

  // (Not the 10,000 ports on iptables flat: ~11 s on the fake, past this file's time budget; iptables tree runs it.)
  it.each([
    ...(name === 'iptables flat' ? [] : [['a Service with 10,000 ports', manyPorts('huge', 10_000), 10_000] as const]),
    ['a slice with 10,000 endpoints', manyEndpoints('huge', 10_000), 1] as const,
  ])('programs %s, and removes it', async (_, [service, slice], ports) => {
    const backend = make();
    await backend.proxy.backend.init();
    await syncOnce(backend, [{ action: 'upsert', kind: 'Service', object: service }, { action: 'upsert', kind: 'EndpointSlice', object: slice }]);
    expect(backend.proxy.engine.desiredState.size).toBe(ports);
    await syncOnce(backend, [{ action: 'delete', kind: 'Service', ref: 'default/huge' }]);
    expect(backend.proxy.engine.desiredState.size).toBe(0);
  }, 60_000);
});
