import { IPTABLES_TABLES, type IPFamily, type IptablesRules, type IptablesTable } from '@kplane/core';
import type { IptablesClient, Mode } from '../client/client.js';
import { listedRules, savedRules } from '../client/listing.js';
import { canonicalRule } from '../client/rule-text.js';
import { HOOKS } from './base-chains.js';
import type { FamilyModel } from './family-model.js';
import { CHAIN, nodePortRoot } from './names.js';
import { PROTOCOLS } from './settings.js';

/** kplane's chains every audit reads: the entry chains and the tree roots, which every packet to a service passes. */
export const TOP_CHAINS: ReadonlySet<string> = new Set([...Object.values(CHAIN), ...PROTOCOLS.map(nodePortRoot)]);

/** The built-in chains holding kplane's hooks, per table. */
const HOOK_CHAINS: readonly { table: IptablesTable; chain: string }[] = [...new Set(HOOKS.map((hook) => `${hook.table} ${hook.chain}`))]
  .map((key) => ({ table: key.split(' ')[0] as IptablesTable, chain: key.split(' ')[1]! }));

/** The tree chains below the roots (KPLANE-IPS-<n>, KPLANE-NP-TCP-<n>, …): a flushed one black-holes a whole subtree of services. */
export const TREE_CHAIN = new RegExp(`^(${[CHAIN.addresses, ...PROTOCOLS.map(nodePortRoot)].join('|')})-\\d+$`);

/**
 * Chains read per audit in iptables-nft mode besides the fixed ones, in turn: this many of the tree
 * chains and as many of the others (service, endpoint, external chains). Measured at 20,000
 * services (tree layout, leaves of 32: 40,779 chains, 768 of them tree chains) in a network
 * namespace (scripts/measure-audit.ts), where one `iptables-nft -S <chain>` costs about 8 ms
 * (mostly starting the process): an audit of both families reads 54 chains (2 × 17 fixed, 20 in
 * the windows) in 0.4–0.7 s and 0.2 s of the agent's CPU, against 1.2–2.4 s for just
 * `iptables-nft-save` of nat and filter; a window of 50 costs 0.85 s, one of 200 3.9 s.
 */
export const AUDIT_WINDOW = 10;

/** A chain as the kernel listed it: its rules, or null when it does not exist. */
type Listing = Map<IptablesTable, Map<string, readonly string[] | null>>;

/**
 * The drift check of one backend (issue 15: tampering): reads a bounded slice of the kernel and
 * compares it rule by rule with the model of what the last syncs wrote. Every audit reads the
 * built-in chains holding kplane's hooks and kplane's top chains (KPLANE-SERVICES, the tree roots
 * KPLANE-IPS and KPLANE-NP-*, node ports, marks, masquerade, filter).
 * - iptables-nft: one `-S` per chain; besides the fixed ones a window of `window` tree chains and
 *   one of `window` other chains, moving on each audit. Every tree chain is read once every
 *   ceil(tree chains / window) audits (77 at 20,000 services: 6.4 min at the default 5 s period),
 *   every other chain once every ceil(others / window) audits (4,000 at 20,000 services, 5.6 h:
 *   there the hourly full resync comes first).
 * - iptables-legacy reads a whole table from the kernel for any listing (130 ms for one chain,
 *   0.3–0.5 s for `iptables-legacy-save` of nat and filter at 20,000 services), so there the audit
 *   reads each table once and compares every chain: 0.5–0.7 s and 0.3 s of the agent's CPU at
 *   20,000 services; any chain's drift is found by the next audit.
 * Only kplane's chains and its hooks are compared: foreign chains and rules are neither reported nor touched.
 */
export class DriftAudit {
  private readonly cursors = new Map<string, number>();

  constructor(private readonly client: IptablesClient, private readonly window = AUDIT_WINDOW) {}

  /** One line per difference (`nat KPLANE-IPS: 0 rules in the kernel, 12 written`), [] when the slice matches. */
  async run(mode: Mode, family: IPFamily, model: FamilyModel): Promise<string[]> {
    const listing = mode === 'legacy' ? await this.readTables(mode, family, model) : await this.readSlice(mode, family, model);
    const drift: string[] = [];
    for (const hook of HOOKS) {
      const rules = listing.get(hook.table)!.get(hook.chain) ?? [];
      if (!rules.some((rule) => sameRule(hook.rule, rule))) drift.push(`${hook.table} ${hook.chain}: no hook to ${hook.target}`);
    }
    for (const [table, chains] of listing) {
      for (const [chain, rules] of chains) {
        const written = model.rules(table, chain);
        const difference = written && chainDifference(written, rules);
        if (difference) drift.push(`${table} ${chain}: ${difference}`);
      }
    }
    return drift;
  }

  /** iptables-nft: the hook chains, the top chains and the next window of the others, one `-S` each. */
  private async readSlice(mode: Mode, family: IPFamily, model: FamilyModel): Promise<Listing> {
    const top = IPTABLES_TABLES.flatMap((table) => [...model.chainNames(table)].filter((chain) => TOP_CHAINS.has(chain)).map((chain) => ({ table, chain })));
    const listing: Listing = new Map(IPTABLES_TABLES.map((table) => [table, new Map()]));
    const others = IPTABLES_TABLES.flatMap((table) => [...model.chainNames(table)].filter((chain) => !TOP_CHAINS.has(chain)).map((chain) => ({ table, chain })));
    const window = [
      ...this.nextWindow(`${family} tree`, others.filter(({ chain }) => TREE_CHAIN.test(chain))),
      ...this.nextWindow(`${family} other`, others.filter(({ chain }) => !TREE_CHAIN.test(chain))),
    ];
    for (const { table, chain } of [...HOOK_CHAINS, ...top, ...window]) {
      const text = await this.client.listChain(mode, family, table, chain);
      listing.get(table)!.set(chain, text === null ? null : listedRules(text, chain));
    }
    return listing;
  }

  /** The next `window` of `chains`, after the one the last audit read of them (`kind`). */
  private nextWindow(kind: string, chains: readonly { table: IptablesTable; chain: string }[]): { table: IptablesTable; chain: string }[] {
    if (chains.length <= this.window) return [...chains];
    const start = (this.cursors.get(kind) ?? 0) % chains.length;
    this.cursors.set(kind, (start + this.window) % chains.length);
    return Array.from({ length: this.window }, (_, offset) => chains[(start + offset) % chains.length]!);
  }

  /** iptables-legacy: each table once (what any listing costs there), every chain of the model and the hook chains. */
  private async readTables(mode: Mode, family: IPFamily, model: FamilyModel): Promise<Listing> {
    const listing: Listing = new Map();
    for (const table of IPTABLES_TABLES) {
      const saved = savedRules(await this.client.save(mode, family, table)).get(table) ?? new Map<string, string[]>();
      const chains = new Map<string, readonly string[] | null>();
      for (const { chain } of HOOK_CHAINS.filter((hook) => hook.table === table)) chains.set(chain, saved.get(chain) ?? []);
      for (const chain of model.chainNames(table)) chains.set(chain, saved.get(chain) ?? null);
      listing.set(table, chains);
    }
    return listing;
  }
}

/** What differs between a chain as written and as listed, or null (also `kplane plan --diff`'s, planner/diff.ts). */
export function chainDifference(written: IptablesRules, listed: readonly string[] | null): string | null {
  if (listed === null) return 'missing';
  if (listed.length !== written.length) return `${listed.length} rules in the kernel, ${written.length} written`;
  const index = written.findIndex((rule, position) => !sameRule(rule, listed[position]!));
  return index < 0 ? null : `rule ${index + 1} is "${listed[index]}" in the kernel, "${written[index]}" written`;
}

/** A rule as restore read it and as iptables printed it (the same text mostly; else compared canonically). */
function sameRule(written: string, listed: string): boolean {
  return written === listed || canonicalRule(written) === canonicalRule(listed);
}
