import { describe, expect, it } from 'vitest';
import { serviceObject, upsert } from '@kplane/core/testing';
import type { FakeTool } from '../src/index.js';
import { endpoints, fakeNode, world } from './support/world.js';

/** A change that needs every tool: set entries, the shortcut chain, a virtual service, an address. */
const CHANGED_OBJECTS = [
  serviceObject('new', {
    clusterIPs: ['10.96.0.90'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.90'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32190,
    ports: [{ name: 'p', port: 80, nodePort: 30090 }],
  }),
  endpoints('new', ['a']),
];
const CHANGE = CHANGED_OBJECTS.map(upsert);

/** The kernel a fresh node has after one full sync of the world and the change. */
async function convergedDump(): Promise<string> {
  const fresh = fakeNode();
  await fresh.start([...world(), ...CHANGED_OBJECTS].map(upsert));
  return fresh.fake.dump();
}

const BATCHES: readonly (readonly [FakeTool, number])[] = [['ipset', 0], ['ipset', 2], ['iptables', 0], ['ipvsadm', 0], ['ipvsadm', 2], ['ip', 0], ['ip', 1]];

describe('ipvs: a failed batch leaves the model alone, and the next (full) sync converges', () => {
  it.each(BATCHES)('%s failing after %i lines', async (tool, after) => {
    const { fake, engine, start } = fakeNode();
    await start(world().map(upsert));
    fake.failNext(tool, after);
    engine.handle(CHANGE);
    expect(await engine.sync()).toBe(false);
    expect(await engine.sync()).toBe(true);
    expect(fake.dump()).toBe(await convergedDump());
  });

  it.each(['ipset', 'iptables', 'ipvsadm'] as const)('after %s refused the first batch it was sent, the same partial sync is planned again: the model took nothing of the failed one', async (tool) => {
    const { fake, engine, backend, start } = fakeNode();
    await start(world().map(upsert));
    const sent = fake.batches.length;
    fake.failNext(tool);
    engine.handle(CHANGE);
    expect(await engine.sync()).toBe(false);
    const failed = fake.batches.slice(sent);
    expect(failed.at(-1)!.tool).toBe(tool);
    // Every port again, against the unchanged model: only the change's objects differ (the tools before the failed one took theirs again, idempotently).
    const state = engine.desiredState;
    await backend.sync({ full: false, changed: new Set([...state.values()].map((port) => port.servicePort.key)), state });
    // The failed sync stopped at the refused batch; the replay sends it and the rest.
    expect(fake.batches.slice(sent + failed.length, sent + 2 * failed.length)).toEqual(failed);
    expect(fake.dump()).toBe(await convergedDump());
  });
});
