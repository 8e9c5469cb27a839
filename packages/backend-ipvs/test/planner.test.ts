import { describe, expect, it } from 'vitest';
import type { ProxyState } from '@kplane/core';
import { serviceObject, upsert } from '@kplane/core/testing';
import { emptyModel, type IpvsModel } from '../src/planner/model.js';
import { planFull } from '../src/planner/plan-full.js';
import { planPartial } from '../src/planner/plan-partial.js';
import { ipvsSettings } from '../src/options.js';
import { CONFIG, endpoints, fakeNode, world } from './support/world.js';

/** The desired state core hands the backend after a sync of `objects`. */
async function stateOf(objects: Record<string, unknown>[]): Promise<ProxyState> {
  const node = fakeNode();
  await node.start(objects.map(upsert));
  return node.engine.desiredState;
}

/** Everything the model holds, as plain data. */
function snapshot(model: IpvsModel, state: ProxyState): unknown {
  const { services, members, vips, dummy, chains } = model.kernel;
  return {
    services: [...services].map(([key, service]) => [key, service.scheduler, service.persistence, [...service.reals]]),
    members: [...members].sort(),
    vips: [...vips].sort(),
    dummy,
    chains: [...chains],
    desired: [...state.values()].map((port) => model.desired.port(port.servicePort.key) ?? null),
  };
}

const EMPTY_KERNEL = { listing: { services: [], sets: new Map(), vips: null }, rules: new Map() };
const SETTINGS = ipvsSettings(CONFIG);

describe('ipvs planner', () => {
  it('planning changes nothing in the model; commit() does', async () => {
    const before = await stateOf(world());
    const after = await stateOf([...world(), serviceObject('new', { clusterIPs: ['10.96.0.90'], externalTrafficPolicy: 'Local', type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.90'], ports: [{ name: 'p', port: 80, nodePort: 30090 }] }), endpoints('new', ['a'])]);
    const model = emptyModel();
    const full = planFull(model, EMPTY_KERNEL, before, SETTINGS, CONFIG);
    expect(snapshot(model, before)).toEqual(snapshot(emptyModel(), before));
    full.commit();

    const committed = snapshot(model, after);
    const changed = new Set([...after.values()].map((port) => port.servicePort.key).filter((key) => before.get(key) === undefined));
    expect(changed.size).toBe(1);
    const partial = planPartial(model, changed, after, SETTINGS);
    expect(partial.services.toString()).toContain('-A -t 10.96.0.90:80 -s rr\n');
    expect(partial.rules.get(4)!.toString()).toContain(':KPLANE-IPVS-LOCAL - [0:0]');
    expect(snapshot(model, after)).toEqual(committed);
    // The same plan again: nothing of the first was kept.
    expect(planPartial(model, changed, after, SETTINGS).services.toString()).toBe(partial.services.toString());
    partial.commit();
    expect(snapshot(model, after)).not.toEqual(committed);
    expect(planPartial(model, changed, after, SETTINGS).services.empty).toBe(true);
  });
});
