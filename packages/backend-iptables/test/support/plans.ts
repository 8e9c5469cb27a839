import type { ProxyState, SourceEvent } from '@kplane/core';
import type { FamilyModel } from '../../src/planner/family-model.js';
import type { Plan } from '../../src/planner/plan.js';
import { allTreeChains } from '../../src/planner/trees.js';
import { harness } from './harness.js';

/** The restore text of a plan, as it would be sent. */
export const planText = (plan: Plan): string => plan.transactions.map(String).join('');

/** The desired state of `events`, as core's engine builds it (from a proxy of its own). */
export async function stateOf(events: readonly SourceEvent[]): Promise<ProxyState> {
  const world = harness({ 'leaf-size': '4' });
  await world.start(events);
  return world.engine.desiredState;
}

/** Everything a model holds, to compare before and after. */
export function snapshot(model: FamilyModel) {
  return { nat: model.writtenChains('nat'), filter: model.writtenChains('filter'), trees: allTreeChains(model.trees, model.settings.family) };
}
