import { IPTABLES_TABLES, type ChangeMonitor, type Clock, type IPFamily, type IptablesRules, type IptablesTable } from '@kplane/core';
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

/** Whole-table audits in iptables-nft mode (after a gap of the monitor) take at most this share of the time: after one that took T, the next waits T × (1 / share - 1). */
const WHOLE_AUDIT_SHARE = 0.05;

/** A chain as the kernel listed it: its rules, or null when it does not exist. */
type Listing = Map<IptablesTable, Map<string, readonly string[] | null>>;

/**
 * The drift check of one backend (issue 15: tampering), against the model of what the last syncs
 * wrote, rule by rule. Only kplane's chains and its hooks are compared: foreign chains and rules
 * are neither reported nor touched.
 * - iptables-nft: every audit reads the built-in chains holding kplane's hooks and kplane's top
 *   chains (KPLANE-SERVICES, the tree roots KPLANE-IPS and KPLANE-NP-*, node ports, marks,
 *   masquerade, filter), one `-S` each (34 chains for both families: 0.3-0.5 s at 20,000
 *   services), and asks the monitor (`nft monitor`, IptablesClient.watchChanges) what changed
 *   since: a change by a process kplane did not start that names one of kplane's chains (a flushed
 *   tree or service chain, a deleted rule) is drift at the next period, at any size. Where the
 *   monitor may have missed changes (its first audit, a restart, lost events; always without one)
 *   each table is read whole (`iptables-nft-save`, 1.2-2.4 s at 20,000 services) and every chain
 *   compared, at most WHOLE_AUDIT_SHARE of the time.
 * - iptables-legacy reads a whole table from the kernel for any listing (130 ms for one chain,
 *   0.3–0.5 s for `iptables-legacy-save` of nat and filter at 20,000 services), and has no monitor:
 *   there every audit reads each table once and compares every chain (0.5–0.7 s and 0.3 s of the
 *   agent's CPU at 20,000 services); any chain's drift is found by the next audit.
 */
export class DriftAudit {
  /** Whether whole tables have been compared since the monitor's last gap. */
  private checked = false;
  /** When (clock time) the next whole-table audit may run in iptables-nft mode. */
  private wholeAuditAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly client: IptablesClient,
    private readonly mode: Mode,
    private readonly clock: Clock,
    /** iptables-nft only (legacy is not nf_tables). */
    private readonly monitor: ChangeMonitor | null,
  ) {}

  /** Per family, one line per difference (`nat KPLANE-IPS: 0 rules in the kernel, 12 written`); none for a family that matches. */
  async run(models: ReadonlyMap<IPFamily, FamilyModel>): Promise<Map<IPFamily, string[]>> {
    const seen = this.monitor?.take() ?? { gap: true, foreign: [] };
    if (seen.gap) this.checked = false;
    const whole = this.mode === 'legacy' || (!this.checked && this.clock.now() >= this.wholeAuditAt);
    const startedAt = this.clock.now();
    const drift = new Map<IPFamily, string[]>();
    for (const [family, model] of models) {
      if (model.empty) continue;
      const listing = whole ? await this.readTables(family, model) : await this.readSlice(family, model);
      let lines = compare(listing, model);
      if (lines.length === 0) lines = seen.foreign.filter((change) => changeFamily(change) === family).map((change) => `changed from outside: ${change}`);
      if (lines.length > 0) drift.set(family, lines);
    }
    if (whole && this.mode === 'nft') {
      this.checked = true;
      this.wholeAuditAt = this.clock.now() + (this.clock.now() - startedAt) * (1 / WHOLE_AUDIT_SHARE - 1);
    }
    return drift;
  }

  stop(): void {
    this.monitor?.stop();
  }

  /** iptables-nft: the hook chains and the top chains, one `-S` each. */
  private async readSlice(family: IPFamily, model: FamilyModel): Promise<Listing> {
    const top = IPTABLES_TABLES.flatMap((table) => [...model.chainNames(table)].filter((chain) => TOP_CHAINS.has(chain)).map((chain) => ({ table, chain })));
    const listing: Listing = new Map(IPTABLES_TABLES.map((table) => [table, new Map()]));
    for (const { table, chain } of [...HOOK_CHAINS, ...top]) {
      const text = await this.client.listChain(this.mode, family, table, chain);
      listing.get(table)!.set(chain, text === null ? null : listedRules(text, chain));
    }
    return listing;
  }

  /** Each table once (in legacy mode what any listing costs), every chain of the model and the hook chains. */
  private async readTables(family: IPFamily, model: FamilyModel): Promise<Listing> {
    const listing: Listing = new Map();
    for (const table of IPTABLES_TABLES) {
      const saved = savedRules(await this.client.save(this.mode, family, table)).get(table) ?? new Map<string, string[]>();
      const chains = new Map<string, readonly string[] | null>();
      for (const { chain } of HOOK_CHAINS.filter((hook) => hook.table === table)) chains.set(chain, saved.get(chain) ?? []);
      for (const chain of model.chainNames(table)) chains.set(chain, saved.get(chain) ?? null);
      listing.set(table, chains);
    }
    return listing;
  }
}

/** The hooks and chains of a listing that differ from the model. */
function compare(listing: Listing, model: FamilyModel): string[] {
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

/** The IP family of a change nft monitor quoted (`"delete rule ip6 nat KPLANE-IPS handle 3" by …`). */
function changeFamily(change: string): IPFamily {
  return /^"\S+ \S+ ip6 /.test(change) ? 6 : 4;
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
