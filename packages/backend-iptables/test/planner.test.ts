import { describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import type { SourceEvent } from '@kplane/core';
import { FakeIptablesClient } from '../src/index.js';
import { parseSave } from '../src/client/save-audit.js';
import { FamilyModel } from '../src/planner/family-model.js';
import { serviceChain } from '../src/planner/names.js';
import { planFull } from '../src/planner/plan-full.js';
import { planPartial } from '../src/planner/plan-partial.js';
import { harness } from './support/harness.js';
import { planText, snapshot, stateOf } from './support/plans.js';
import { trace } from './support/trace.js';

const service = (name: string, ip: string): SourceEvent => upsert(serviceObject(name, { clusterIPs: [ip], ports: [{ name: 'http', port: 80 }] }));
const endpoints = (name: string, ip: string): SourceEvent =>
  upsert(endpointSliceObject(name, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip, nodeName: 'node-a' }] }));
describe('iptables planner', () => {
  it('planning changes neither the model nor its trees: a partial plan not committed (a failed restore) and made again is the same', async () => {
    const test = harness({ 'leaf-size': '4' });
    await test.start([service('a', '10.96.0.1'), service('z', '10.96.0.9')]);
    const state = await stateOf([service('a', '10.96.0.1'), service('z', '10.96.0.9'), service('b', '10.96.0.2'), endpoints('b', '10.244.0.2')]);
    const changed = [...state.values()].map((port) => port.servicePort.key);
    const model = test.backend.tables(4)!;
    const before = snapshot(model);
    const first = planText(planPartial(model, changed, state));
    expect(first).toContain(':KPLANE-IPS - [0:0]');
    expect(snapshot(model)).toEqual(before);
    expect(planText(planPartial(model, changed, state))).toBe(first);
  });

  it('a full plan not committed leaves the model as it was; committed, the model holds what it wrote', async () => {
    const test = harness({ 'leaf-size': '4' });
    await test.start([service('a', '10.96.0.1')]);
    const state = await stateOf(Array.from({ length: 12 }, (_, index) => service(`s${index}`, `10.96.1.${index + 1}`)));
    const model = test.backend.tables(4)!;
    const before = snapshot(model);
    const audit = parseSave(test.client.dump('nft', 4));
    const plan = planFull(model, state, audit, 30);
    expect(plan.transactions.length).toBeGreaterThan(1);
    expect(snapshot(model)).toEqual(before);
    expect(planText(planFull(model, state, audit, 30))).toBe(planText(plan));
    for (const transaction of plan.transactions) await test.client.restore('nft', 4, transaction);
    plan.commit();
    for (const table of ['nat', 'filter'] as const) {
      expect(new Map([...test.client.chains('nft', 4, table)].filter(([chain]) => chain.startsWith('KPLANE-')))).toEqual(model.writtenChains(table));
    }
    expect(model.addresses.size).toBe(12);
  });

  it('a full sync split into restores (iptables-nft) leaves a working ruleset after each one', async () => {
    const fake = new FakeIptablesClient();
    const ip = (index: number) => `10.96.${index % 7}.${10 + index}`;
    const before = harness({ 'leaf-size': '4' }, {}, fake);
    await before.start(Array.from({ length: 40 }, (_, index) => [service(`s${index}`, ip(index)), endpoints(`s${index}`, `10.244.0.${index}`)]).flat());
    // The next agent's world: some services gone, some new, some with other endpoints.
    const after = harness({ 'leaf-size': '4' });
    await after.start(Array.from({ length: 40 }, (_, index) => index + 10).flatMap((index) => [service(`s${index}`, ip(index)), endpoints(`s${index}`, `10.244.1.${index}`)]));
    const state = after.engine.desiredState;
    const model = new FamilyModel(after.backend.tables(4)!.settings);
    const plan = planFull(model, state, parseSave(fake.dump('nft', 4)), 50);
    expect(plan.transactions.length).toBeGreaterThan(10);
    const kept = [...state.values()].filter((port) => before.engine.desiredState.get(port.servicePort.key));
    for (const transaction of plan.transactions) {
      await fake.restore('nft', 4, transaction);
      for (const port of kept) {
        const reached = trace(fake.chains('nft', 4, 'nat'), { destination: port.servicePort.clusterIPs[0]!, protocol: 'tcp', port: 80 });
        expect(reached.verdict).toBe(serviceChain(port.servicePort));
      }
    }
    plan.commit();
    for (const table of ['nat', 'filter'] as const) {
      expect(new Map([...fake.chains('nft', 4, table)].filter(([chain]) => chain.startsWith('KPLANE-')))).toEqual(model.writtenChains(table));
    }
    for (const port of state.values()) {
      expect(trace(fake.chains('nft', 4, 'nat'), { destination: port.servicePort.clusterIPs[0]!, protocol: 'tcp', port: 80 }).verdict).toBe(serviceChain(port.servicePort));
    }
  });
});
