import { describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import type { ProxyState, SourceEvent } from '@kplane/core';
import { type FakeIptablesClient } from '../src/index.js';
import { parseSave } from '../src/client/save-audit.js';
import type { FamilyModel } from '../src/planner/family-model.js';
import { serviceChain } from '../src/planner/names.js';
import { planFull } from '../src/planner/plan-full.js';
import { planPartial } from '../src/planner/plan-partial.js';
import { harness } from './support/harness.js';
import { planText, snapshot, stateOf } from './support/plans.js';
import { trace } from './support/trace.js';

/** Services s<from>..s<to-1> with one endpoint each, on distinct cluster IPs in 10.96.0.0/16. */
function services(from: number, to: number, endpointNet = 0): SourceEvent[] {
  return Array.from({ length: to - from }, (_, offset) => from + offset).flatMap((index) => [
    upsert(serviceObject(`s${index}`, { clusterIPs: [`10.96.${index >> 8}.${index & 255}`], ports: [{ name: 'http', port: 80 }] })),
    upsert(endpointSliceObject(`s${index}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: `10.244.${endpointNet}.${index % 250 + 1}`, nodeName: 'node-a' }] })),
  ]);
}

/** Every service of `state` is reached through the tree. */
function expectReached(client: FakeIptablesClient, state: ProxyState): void {
  const nat = client.chains('nft', 4, 'nat');
  for (const port of state.values()) {
    expect(trace(nat, { destination: port.servicePort.clusterIPs[0]!, protocol: 'tcp', port: 80 }).verdict).toBe(serviceChain(port.servicePort));
  }
}

/** The kernel holds exactly the model's chains, and every service of `state` is reached. */
function expectKernelIsModel(client: FakeIptablesClient, model: FamilyModel, state: ProxyState): void {
  for (const table of ['nat', 'filter'] as const) {
    expect(new Map([...client.chains('nft', 4, table)].filter(([chain]) => chain.startsWith('KPLANE-')))).toEqual(model.writtenChains(table));
  }
  expectReached(client, state);
}

describe('iptables backend: failed restores', () => {
  it('a partial sync whose restore fails leaves kernel and model as they were; the engine retries with a full sync', async () => {
    const test = harness({ 'leaf-size': '4' });
    await test.start(services(0, 20));
    const model = test.backend.tables(4)!;
    const next = await stateOf([...services(0, 20), ...services(20, 24, 1)]);
    const changed = [...next.values()].map((port) => port.servicePort.key);
    const partialBefore = planText(planPartial(model, changed, next));
    const fullBefore = planText(planFull(model, next, parseSave(test.client.dump('nft', 4))));
    const modelBefore = snapshot(model);
    const kernelBefore = test.client.dump('nft', 4);

    test.client.failRestore();
    await expect(test.change(services(20, 24, 1))).rejects.toThrow('the sync failed');
    expect(test.client.dump('nft', 4)).toBe(kernelBefore);
    expect(snapshot(model)).toEqual(modelBefore);
    expect(planText(planPartial(model, changed, next))).toBe(partialBefore);
    expect(planText(planFull(model, next, parseSave(test.client.dump('nft', 4))))).toBe(fullBefore);

    const saves = test.client.saves.length;
    await test.change([]);
    expect(test.client.saves.length).toBeGreaterThan(saves);
    expectKernelIsModel(test.client, model, test.engine.desiredState);
    expect(test.engine.desiredState.size).toBe(24);
  });

  it('a restore failing in the middle of a split full sync (iptables-nft) leaves the model as it was; the retry converges', async () => {
    // Every sync full (sync period 0): 40 services, then 1,000, whose full sync needs more than one restore of 5,000 lines.
    const test = harness({}, { syncPeriodMs: 0 });
    await test.start(services(0, 40));
    const model = test.backend.tables(4)!;
    const next = await stateOf(services(0, 1000));
    const audit = parseSave(test.client.dump('nft', 4));
    const plan = planFull(model, next, audit, 5000);
    expect(plan.transactions.length).toBeGreaterThan(1);
    const modelBefore = snapshot(model);

    const restores = test.client.restores.length;
    test.client.failRestore(1);
    await expect(test.change(services(40, 1000))).rejects.toThrow('the sync failed');
    expect(test.client.restores.length).toBe(restores + 1);
    expect(snapshot(model)).toEqual(modelBefore);
    expect(planText(planFull(model, next, audit, 5000))).toBe(planText(plan));
    // The first restore worked: the old services are still served meanwhile.
    expectReached(test.client, await stateOf(services(0, 40)));

    await test.change([]);
    expect(model.addresses.size).toBe(1000);
    expectKernelIsModel(test.client, model, test.engine.desiredState);
  });
});
