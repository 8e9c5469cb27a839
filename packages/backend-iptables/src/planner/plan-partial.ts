import { IptablesTransaction, type ProxyState, type ServicePortKey } from '@kplane/core';
import type { PrefixTree, TreeItem } from '../tree/prefix-tree.js';
import { servicesChain } from './base-chains.js';
import type { FamilyModel } from './family-model.js';
import { CHAIN } from './names.js';
import type { Plan } from './plan.js';
import { EMPTY_PLAN, planPort, type PortPlan } from './port-plan.js';
import { cloneTrees, takeTreeChanges, type Trees } from './trees.js';

/**
 * Rewrites only the chains of the changed ports that differ from the model, the tree chains on
 * their paths, and the entry chain when the service CIDRs changed. Destinations move in copies of
 * the model's trees (made only when some destination moves); the model takes them in commit().
 */
export function planPartial(model: FamilyModel, changed: Iterable<ServicePortKey>, state: ProxyState): Plan {
  const { settings } = model;
  const transaction = new IptablesTransaction();
  const entry = servicesChain(settings, state.serviceCIDRs);
  if (model.differs('nat', CHAIN.services, entry)) transaction.writeChain('nat', CHAIN.services, entry);
  const ports = new Map<ServicePortKey, PortPlan>();
  let trees: Trees | null = null;
  for (const key of changed) {
    const before = model.port(key);
    const current = state.get(key);
    const after = current ? planPort(current, settings) : EMPTY_PLAN;
    if (!sameItems(before.addresses, after.addresses) || !sameItems(before.nodePorts, after.nodePorts)) {
      trees ??= cloneTrees(model.trees);
      replaceItems(trees.addresses, before.addresses, after.addresses);
      for (const [protocol, tree] of trees.nodePorts) {
        replaceItems(tree, before.nodePorts.filter((item) => item.protocol === protocol), after.nodePorts.filter((item) => item.protocol === protocol));
      }
    }
    for (const [chain, rules] of after.chains) if (model.differs('nat', chain, rules)) transaction.writeChain('nat', chain, rules);
    for (const chain of before.chains.keys()) if (!after.chains.has(chain)) transaction.deleteChain('nat', chain);
    ports.set(key, after);
  }
  if (trees) {
    const { written, removed } = takeTreeChanges(trees, settings.family);
    for (const [chain, rules] of written) if (model.differs('nat', chain, rules)) transaction.writeChain('nat', chain, rules);
    for (const chain of removed) transaction.deleteChain('nat', chain);
  }
  const transactions = transaction.empty ? [] : [transaction];
  return { transactions, commit: () => model.update(trees, ports, transactions) };
}

function sameItems(before: readonly TreeItem[], after: readonly TreeItem[]): boolean {
  return before.length === after.length && before.every((item, index) => item.id === after[index]!.id);
}

/** Moves a port's destinations in a tree from `before` to `after`, touching only those that differ. */
function replaceItems<T extends TreeItem>(tree: PrefixTree<T>, before: readonly T[], after: readonly T[]): void {
  const kept = new Set(after.map((item) => item.id));
  const had = new Set(before.map((item) => item.id));
  for (const item of before) if (!kept.has(item.id)) tree.remove(item);
  for (const item of after) if (!had.has(item.id)) tree.insert(item);
}
