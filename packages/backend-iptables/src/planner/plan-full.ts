import { IPTABLES_TABLES, type IptablesRules, type IptablesTable, type ProxyState, type ServicePortKey } from '@kplane/core';
import type { KernelAudit } from '../client/save-audit.js';
import { HOOKS, baseChains } from './base-chains.js';
import type { FamilyModel } from './family-model.js';
import { CHAIN } from './names.js';
import type { Plan } from './plan.js';
import { EMPTY_PLAN, planPort, type PortPlan } from './port-plan.js';
import { RestorePacker } from './restore-packer.js';
import type { FamilySettings } from './settings.js';
import { allTreeChains, emptyTrees, type ChainRules, type Trees } from './trees.js';

/**
 * Rewrites all of kplane's chains in one family, deletes the ones it owns (in the kernel's `audit`
 * or the model) but no longer needs, and makes its hooks exactly one each. A full sync that fits
 * `lineBudget` is one restore, atomic. A larger one (iptables-nft, whose restore slows down
 * superlinearly with its size) goes as restores of whole chains in dependency order, each leaving
 * a working ruleset: targets before the chains that jump to them, the trees under fresh names
 * beside the old ones and switched over by their roots, hooks last, then stale chains flushed and
 * deleted. The trees are built anew; the model is left as it is until commit().
 */
export function planFull(model: FamilyModel, state: ProxyState, audit: KernelAudit, lineBudget = Infinity): Plan {
  const ports = new Map<ServicePortKey, PortPlan>();
  for (const portState of state.values()) {
    const plan = planPort(portState, model.settings);
    if (plan !== EMPTY_PLAN) ports.set(portState.servicePort.key, plan);
  }
  const plans = [...ports.values()];
  const owned = new Map(IPTABLES_TABLES.map((table) => [table, new Set([...(audit.chains.get(table) ?? []), ...model.chainNames(table)])]));
  // A split sync writes the trees under fresh names. Every destination is a rule of a tree leaf, so
  // the ports' chains and one line per destination already tell most split syncs: their trees are
  // built once; near the budget, the trees are built and counted first.
  const fresh = (root: string): number => nextTreeNumber(root, owned.get('nat')!);
  const portLines = plans.reduce((sum, plan) => sum + plan.addresses.length + plan.nodePorts.length + lineCount(plan.chains.values()), 0);
  let trees = buildTrees(model.settings, plans, portLines > lineBudget ? fresh : () => 1);
  let treeChains = allTreeChains(trees, model.settings.family);
  if (portLines <= lineBudget && portLines + lineCount(treeChains.map(([, rules]) => rules)) > lineBudget) {
    trees = buildTrees(model.settings, plans, fresh);
    treeChains = allTreeChains(trees, model.settings.family);
  }

  const packer = new RestorePacker(lineBudget);
  const base = baseChains(model.settings, state.serviceCIDRs);
  const dispatch = new Set<string>([CHAIN.nodePorts, CHAIN.services]);
  const desired = new Map(IPTABLES_TABLES.map((table) => [table, new Set<string>()]));
  const write = (table: IptablesTable, [chain, rules]: ChainRules) => {
    desired.get(table)!.add(chain);
    packer.add(1 + rules.length, (transaction) => transaction.writeChain(table, chain, rules));
  };
  for (const chain of base.get('nat')!) if (!dispatch.has(chain[0])) write('nat', chain);
  for (const plan of plans) for (const chain of plan.chains) write('nat', chain);
  for (const chain of treeChains) write('nat', chain);
  for (const chain of dispatch) write('nat', [chain, base.get('nat')!.get(chain)!]);
  for (const chain of base.get('filter')!) write('filter', chain);

  const kept = new Set<string>();
  for (const hook of audit.hooks) {
    const key = `${hook.table} ${hook.chain} ${hook.target}`;
    const wanted = HOOKS.some((expected) => `${expected.table} ${expected.chain} ${expected.target}` === key);
    if (wanted && !kept.has(key)) kept.add(key);
    else packer.add(1, (transaction) => transaction.deleteRule(hook.table, hook.chain, hook.rule));
  }
  for (const hook of HOOKS) {
    if (!kept.has(`${hook.table} ${hook.chain} ${hook.target}`)) packer.add(1, (transaction) => transaction.insertRule(hook.table, hook.chain, hook.rule));
  }
  packer.removeChains(IPTABLES_TABLES.flatMap((table) => [...owned.get(table)!].filter((chain) => !desired.get(table)!.has(chain)).map((chain) => ({ table, chain }))));
  const transactions = packer.transactions();
  return { transactions, commit: () => model.replace(trees, ports, transactions) };
}

/** Builds every tree from the plans, numbering each tree's chains from `firstNumber(root)`. */
export function buildTrees(settings: FamilySettings, plans: readonly PortPlan[], firstNumber: (root: string) => number): Trees {
  const trees = emptyTrees(settings);
  trees.addresses.build(plans.flatMap((plan) => plan.addresses), firstNumber(trees.addresses.options.root));
  for (const [protocol, tree] of trees.nodePorts) {
    tree.build(plans.flatMap((plan) => plan.nodePorts.filter((item) => item.protocol === protocol)), firstNumber(tree.options.root));
  }
  return trees;
}

/** Lines of a restore that writes these chains: a declaration each, and their rules. */
function lineCount(chains: Iterable<IptablesRules>): number {
  let lines = 0;
  for (const rules of chains) lines += 1 + rules.length;
  return lines;
}

/** The number after every `<root>-<n>` chain among `chains` (1 when there is none). */
function nextTreeNumber(root: string, chains: Iterable<string>): number {
  const prefix = `${root}-`;
  let highest = 0;
  for (const chain of chains) {
    const suffix = chain.startsWith(prefix) ? chain.slice(prefix.length) : '';
    if (/^\d+$/.test(suffix)) highest = Math.max(highest, Number(suffix));
  }
  return highest + 1;
}
