import type { IPFamily, IptablesRules, Protocol } from '@kplane/core';
import { PrefixTree, type TreeItem, type TreeNode } from '../tree/prefix-tree.js';
import { addressWidth } from './addresses.js';
import { CHAIN, nodePortRoot } from './names.js';
import type { AddressItem, NodePortItem } from './port-plan.js';
import { PROTOCOLS, type FamilySettings } from './settings.js';
import { addressNodeRules, nodePortNodeRules } from './tree-rules.js';

/** The dispatch trees of one IP family: service IPs, and node ports per protocol. */
export interface Trees {
  readonly addresses: PrefixTree<AddressItem>;
  readonly nodePorts: ReadonlyMap<Protocol, PrefixTree<NodePortItem>>;
}

/** A chain to write: its name and its rules. */
export type ChainRules = [chain: string, rules: IptablesRules];

export function emptyTrees(settings: FamilySettings): Trees {
  return {
    addresses: new PrefixTree({ width: addressWidth(settings.family), capacity: settings.leafSize, root: CHAIN.addresses }),
    nodePorts: new Map(PROTOCOLS.map((protocol) => [protocol, new PrefixTree<NodePortItem>({ width: 16, capacity: settings.leafSize, root: nodePortRoot(protocol) })])),
  };
}

/** Copies a planner may change without touching the model's trees. */
export function cloneTrees(trees: Trees): Trees {
  return { addresses: trees.addresses.clone(), nodePorts: new Map([...trees.nodePorts].map(([protocol, tree]) => [protocol, tree.clone()])) };
}

/** Every chain of the trees with its rules, children before their parents. */
export function allTreeChains(trees: Trees, family: IPFamily): ChainRules[] {
  return [
    ...withRules(trees.addresses.postOrder(), (node) => addressNodeRules(node, family)),
    ...[...trees.nodePorts].flatMap(([protocol, tree]) => withRules(tree.postOrder(), (node) => nodePortNodeRules(node, protocol))),
  ];
}

/** The tree chains written and removed since the trees' last change record (which this takes). */
export function takeTreeChanges(trees: Trees, family: IPFamily): { written: ChainRules[]; removed: string[] } {
  const addresses = trees.addresses.takeChanges();
  const nodePorts = [...trees.nodePorts].map(([protocol, tree]) => ({ protocol, changes: tree.takeChanges() }));
  return {
    written: [
      ...withRules(addresses.written, (node) => addressNodeRules(node, family)),
      ...nodePorts.flatMap(({ protocol, changes }) => withRules(changes.written, (node) => nodePortNodeRules(node, protocol))),
    ],
    removed: [...addresses.removed, ...nodePorts.flatMap(({ changes }) => changes.removed)],
  };
}

function withRules<T extends TreeItem>(nodes: Iterable<TreeNode<T>>, rules: (node: TreeNode<T>) => IptablesRules): ChainRules[] {
  return [...nodes].map((node) => [node.chain, rules(node)]);
}
