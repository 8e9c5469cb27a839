import { IPTABLES_TABLES, IptablesTransaction, type IptablesRules, type IptablesTable, type ProxyState, type ServicePortKey } from '@kplane/core';
import { savedRules } from '../client/listing.js';
import { canonicalRule } from '../client/rule-text.js';
import { parseSave } from '../client/save-audit.js';
import { HOOKS, baseChains } from './base-chains.js';
import type { FamilyModel } from './family-model.js';
import type { Plan } from './plan.js';
import { buildTrees } from './plan-full.js';
import { EMPTY_PLAN, planPort, type PortPlan } from './port-plan.js';
import { allTreeChains } from './trees.js';

/** Every chain kplane owns starts with this (as in save-audit.ts). */
const OWN_PREFIX = 'KPLANE-';

/** What the first full sync after a restart does: only the difference, or (with why) the full rewrite. */
export type ReadBack = { readonly plan: Plan } | { readonly fallback: string };

/**
 * The first full sync of one family after a restart, planned against what the kernel already
 * holds (`saved`: iptables-save of nat and filter). The chains a full sync of `state` writes are
 * built as planFull builds them, the trees numbered from the kernel's lowest tree chain number (so
 * that a tree the previous run wrote from the same destinations has the same names); one restore
 * writes the chains whose rules differ (compared as iptables prints them) and deletes kplane's
 * chains no longer needed, none when nothing differs; its commit() records every chain, as a full
 * sync's does. Fallback to the full rewrite when kplane's hooks are not exactly one each, when more
 * than half of the chains differ (another layout or leaf size: a full rewrite is as cheap and
 * split safely), or when the difference is more than `lineBudget` lines.
 */
export function planReadBack(model: FamilyModel, state: ProxyState, saved: string, lineBudget: number): ReadBack {
  const { settings } = model;
  const audit = parseSave(saved);
  if (IPTABLES_TABLES.every((table) => !audit.chains.get(table)?.size)) return { fallback: 'no chain of kplane\'s found' };
  const hooks = audit.hooks.map((hook) => `${hook.table} ${hook.chain} ${hook.target}`).sort();
  const wanted = HOOKS.map((hook) => `${hook.table} ${hook.chain} ${hook.target}`).sort();
  if (hooks.join('\n') !== wanted.join('\n')) return { fallback: `hooks ${hooks.join(', ') || 'none'}` };
  const kernel = savedRules(saved);

  const ports = new Map<ServicePortKey, PortPlan>();
  for (const portState of state.values()) {
    const plan = planPort(portState, settings);
    if (plan !== EMPTY_PLAN) ports.set(portState.servicePort.key, plan);
  }
  const natChains = [...(kernel.get('nat')?.keys() ?? [])].filter((chain) => chain.startsWith(OWN_PREFIX));
  const trees = buildTrees(settings, [...ports.values()], (root) => lowestTreeNumber(root, natChains));
  const base = baseChains(settings, state.serviceCIDRs);
  const desired = new Map<IptablesTable, Map<string, IptablesRules>>([
    ['nat', new Map([...base.get('nat')!, ...[...ports.values()].flatMap((plan) => [...plan.chains]), ...allTreeChains(trees, settings.family)])],
    ['filter', new Map(base.get('filter')!)],
  ]);

  const transaction = new IptablesTransaction();
  let lines = 0;
  let differing = 0;
  let chains = 0;
  for (const [table, wantedChains] of desired) {
    const listed = kernel.get(table) ?? new Map<string, string[]>();
    for (const [chain, rules] of wantedChains) {
      chains++;
      if (sameRules(rules, listed.get(chain))) continue;
      differing++;
      lines += 1 + rules.length;
      transaction.writeChain(table, chain, rules);
    }
    for (const chain of listed.keys()) {
      if (!chain.startsWith(OWN_PREFIX) || wantedChains.has(chain)) continue;
      lines += 2;
      transaction.deleteChain(table, chain);
    }
  }
  if (differing * 2 > chains) return { fallback: `${differing} of ${chains} chains differ` };
  if (lines > lineBudget) return { fallback: `${lines} lines differ, more than one restore takes` };
  // The model records every chain as written, as after a full sync.
  const everything = new IptablesTransaction();
  for (const table of IPTABLES_TABLES) for (const [chain, rules] of desired.get(table)!) everything.writeChain(table, chain, rules);
  const transactions = transaction.empty ? [] : [transaction];
  return { plan: { transactions, commit: () => model.replace(trees, ports, [everything]) } };
}

/** A chain's rules as restore reads them and as iptables-save printed them (compared canonically where the text differs). */
function sameRules(written: IptablesRules, listed: readonly string[] | undefined): boolean {
  return listed !== undefined && listed.length === written.length && written.every((rule, index) => rule === listed[index] || canonicalRule(rule) === canonicalRule(listed[index]!));
}

/** The lowest number of the `<root>-<n>` chains among `chains` (1 when there is none). */
function lowestTreeNumber(root: string, chains: readonly string[]): number {
  const prefix = `${root}-`;
  let lowest = Number.POSITIVE_INFINITY;
  for (const chain of chains) {
    const suffix = chain.startsWith(prefix) ? chain.slice(prefix.length) : '';
    if (/^\d+$/.test(suffix)) lowest = Math.min(lowest, Number(suffix));
  }
  return Number.isFinite(lowest) ? lowest : 1;
}
