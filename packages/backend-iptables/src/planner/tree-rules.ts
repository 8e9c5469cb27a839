import { hostCIDR, type IPFamily, type IptablesRules, type Protocol } from '@kplane/core';
import type { Prefix } from '../tree/bits.js';
import type { TreeNode } from '../tree/prefix-tree.js';
import { prefixText } from './addresses.js';
import { CHAIN } from './names.js';
import type { AddressItem, NodePortItem } from './port-plan.js';

/**
 * The rules of one chain of the tree of service IPs. An inner chain jumps to the first child whose
 * prefix holds the destination; a leaf matches each destination exactly, then rejects the other
 * ports of the cluster IPs it holds (every destination of one address sits in one leaf).
 */
export function addressNodeRules(node: TreeNode<AddressItem>, family: IPFamily): IptablesRules {
  if (node.children) return node.children.map((child) => `${child.prefix.length > 0 ? `-d ${prefixText(child.prefix, family)} ` : ''}-j ${child.chain}`);
  const items = sortedItems(node);
  const rules = items.map((item) => {
    const protocol = item.protocol.toLowerCase();
    return `-d ${hostCIDR(item.ip)} -p ${protocol} -m ${protocol} --dport ${item.port} -j ${item.target}`;
  });
  const clusterIPs = new Set(items.filter((item) => item.clusterIP).map((item) => item.ip));
  for (const ip of clusterIPs) rules.push(`-d ${hostCIDR(ip)} -j ${CHAIN.reject}`);
  return rules;
}

/** The rules of one chain of the tree of node ports of `protocol`: port ranges inside, exact ports in leaves. */
export function nodePortNodeRules(node: TreeNode<NodePortItem>, protocol: Protocol): IptablesRules {
  const match = `-p ${protocol.toLowerCase()} -m ${protocol.toLowerCase()} --dport`;
  if (node.children) return node.children.map((child) => `${child.prefix.length > 0 ? `${match} ${portRange(child.prefix)} ` : ''}-j ${child.chain}`);
  return sortedItems(node).map((item) => `${match} ${item.port} -j ${item.target}`);
}

function portRange(prefix: Prefix): string {
  const first = Number(prefix.bits);
  const last = first + 2 ** (16 - prefix.length) - 1;
  return first === last ? String(first) : `${first}:${last}`;
}

function sortedItems<T extends AddressItem | NodePortItem>(node: TreeNode<T>): T[] {
  return [...node.items!.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
