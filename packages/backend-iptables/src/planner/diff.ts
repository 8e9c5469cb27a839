import { IPTABLES_TABLES, type IptablesTable } from '@kplane/core';
import { savedRules } from '../client/listing.js';
import { canonicalRule, ruleTarget, tokenize } from '../client/rule-text.js';
import { parseSave } from '../client/save-audit.js';
import { chainDifference, TREE_CHAIN } from './audit.js';
import { HOOKS } from './base-chains.js';
import type { FamilyModel } from './family-model.js';
import { CHAIN, nodePortRoot } from './names.js';
import { PROTOCOLS } from './settings.js';

/** The roots of the dispatch trees: their rules jump to numbered tree chains. */
const TREE_ROOTS: ReadonlySet<string> = new Set([CHAIN.addresses, ...PROTOCOLS.map(nodePortRoot)]);

/** Chains of one table: name → rules as printed after `-A <chain> `. */
type Chains = ReadonlyMap<string, readonly string[]>;

/**
 * `kplane plan --diff` for one family: kplane's chains and hooks in one iptables-save against the
 * plan's model. A sync numbers tree chains (KPLANE-IPS-<n>, KPLANE-NP-TCP-<n>) as it finds them
 * free and shapes the trees by the order of changes, so each tree is compared by what it
 * dispatches: the rules of its leaves, reached from its root, as a set. Every other chain is
 * compared rule by rule (as the audit does); each hook must be there once; a chain of kplane's
 * that the plan does not write, or a tree chain its root no longer reaches, is drift.
 */
export function familyDiff(model: FamilyModel, saved: string): string[] {
  const kernel = savedRules(saved);
  const drift: string[] = [];
  for (const table of IPTABLES_TABLES) {
    const planned = model.writtenChains(table);
    const listed: Chains = new Map([...(kernel.get(table) ?? [])].filter(([chain]) => chain.startsWith('KPLANE-')));
    const reached = new Set<string>();
    for (const [chain, rules] of planned) {
      if (TREE_CHAIN.test(chain)) continue;
      if (TREE_ROOTS.has(chain)) drift.push(...treeDiff(table, chain, planned, listed, reached));
      else {
        const difference = chainDifference(rules, listed.get(chain) ?? null);
        if (difference) drift.push(`${table} ${chain}: ${difference}`);
      }
    }
    for (const chain of listed.keys()) {
      if (!planned.has(chain) && !reached.has(chain)) drift.push(`${table} ${chain}: in the kernel, not in the plan`);
    }
  }
  const hooks = parseSave(saved).hooks;
  for (const hook of HOOKS) {
    const count = hooks.filter((listed) => listed.table === hook.table && listed.chain === hook.chain && listed.target === hook.target).length;
    if (count !== 1) drift.push(`${hook.table} ${hook.chain}: ${count} hooks to ${hook.target}, the plan has 1`);
  }
  for (const hook of hooks) {
    if (!HOOKS.some((planned) => planned.table === hook.table && planned.chain === hook.chain && planned.target === hook.target)) {
      drift.push(`${hook.table} ${hook.chain}: a hook to ${hook.target}, not in the plan`);
    }
  }
  return drift;
}

/** One tree's leaf rules in the plan against the kernel's; `reached` collects the kernel's tree chains seen. */
function treeDiff(table: IptablesTable, root: string, planned: Chains, listed: Chains, reached: Set<string>): string[] {
  if (!listed.has(root)) return [`${table} ${root}: missing`];
  const wanted = leafRules(root, planned, new Set());
  const found = leafRules(root, listed, reached);
  return [
    ...[...wanted].filter(([rule]) => !found.has(rule)).map(([, text]) => `${table} ${root}: the kernel's tree lacks "${text}"`),
    ...[...found].filter(([rule]) => !wanted.has(rule)).map(([, text]) => `${table} ${root}: the kernel's tree holds "${text}", not in the plan`),
  ];
}

/** The rules of a tree's leaves below `chain` (canonical → as printed), following jumps to tree chains; a missing one is a rule of its own. */
function leafRules(chain: string, chains: Chains, reached: Set<string>): Map<string, string> {
  const rules = new Map<string, string>();
  const walk = (name: string): void => {
    reached.add(name);
    const chainRules = chains.get(name);
    if (!chainRules) {
      rules.set(`missing ${name}`, `-j ${name}, a chain that is missing`);
      return;
    }
    for (const rule of chainRules) {
      const target = ruleTarget(tokenize(rule));
      if (target !== null && TREE_CHAIN.test(target)) walk(target);
      else rules.set(canonicalRule(rule), rule);
    }
  };
  walk(chain);
  return rules;
}
