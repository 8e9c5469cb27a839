import { IPTABLES_TABLES, type IPFamily, type IptablesRules, type IptablesTable } from '@kplane/core';
import type { IptablesClient, Mode } from './client/client.js';
import { listedRules, savedRules } from './client/listing.js';
import { canonicalRule } from './client/rule-text.js';
import { HOOKS } from './planner/base-chains.js';
import type { FamilyModel } from './planner/family-model.js';
import { CHAIN, nodePortRoot } from './planner/names.js';
import { PROTOCOLS } from './planner/settings.js';

/** kplane's chains every audit reads: the entry chains and the tree roots, which every packet to a service passes. */
const TOP_CHAINS: ReadonlySet<string> = new Set([...Object.values(CHAIN), ...PROTOCOLS.map(nodePortRoot)]);

/** The built-in chains holding kplane's hooks, per table. */
const HOOK_CHAINS: readonly { table: IptablesTable; chain: string }[] = [...new Set(HOOKS.map((hook) => `${hook.table} ${hook.chain}`))]
  .map((key) => ({ table: key.split(' ')[0] as IptablesTable, chain: key.split(' ')[1]! }));

/**
 * Other chains read per audit in iptables-nft mode, in turn. Measured at 20,000 services (tree
 * layout, 40,778 chains) in a network namespace: `iptables-nft -S <chain>` costs 5–15 ms (mostly
 * the process), `iptables-nft-save -t nat` 0.75 s; see `audit()` for the figures of one audit.
 */
export const AUDIT_WINDOW = 200;

/** A chain as the kernel listed it: its rules, or null when it does not exist. */
type Listing = Map<IptablesTable, Map<string, readonly string[] | null>>;

/**
 * The drift check of one backend (issue 15: tampering): reads a bounded slice of the kernel and
 * compares it rule by rule with the model of what the last syncs wrote. Every audit reads the
 * built-in chains holding kplane's hooks and kplane's top chains (KPLANE-SERVICES, the tree roots
 * KPLANE-IPS and KPLANE-NP-*, node ports, marks, masquerade, filter); in iptables-nft mode a
 * window of `window` other chains, moving on each audit, so every chain is read once every
 * ceil(chains / window) audits. iptables-legacy reads a whole table from the kernel for any
 * listing (130 ms for one chain, 0.24 s for `iptables-legacy-save -t nat` at 20,000 services), so
 * there the audit reads each table once and compares every chain. Only kplane's chains and its
 * hooks are compared: foreign chains and rules are neither read into the result nor touched.
 */
export class DriftAudit {
  private readonly cursors = new Map<IPFamily, number>();

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
    for (const { table, chain } of [...HOOK_CHAINS, ...top, ...this.nextWindow(family, model)]) {
      const text = await this.client.listChain(mode, family, table, chain);
      listing.get(table)!.set(chain, text === null ? null : listedRules(text, chain));
    }
    return listing;
  }

  /** The next `window` chains (after the last audit's) of the model's chains other than the top ones. */
  private nextWindow(family: IPFamily, model: FamilyModel): { table: IptablesTable; chain: string }[] {
    const others = IPTABLES_TABLES.flatMap((table) => [...model.chainNames(table)].filter((chain) => !TOP_CHAINS.has(chain)).map((chain) => ({ table, chain })));
    if (others.length <= this.window) return others;
    const start = (this.cursors.get(family) ?? 0) % others.length;
    this.cursors.set(family, (start + this.window) % others.length);
    return Array.from({ length: this.window }, (_, offset) => others[(start + offset) % others.length]!);
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

/** What differs between a chain as written and as listed, or null. */
function chainDifference(written: IptablesRules, listed: readonly string[] | null): string | null {
  if (listed === null) return 'missing';
  if (listed.length !== written.length) return `${listed.length} rules in the kernel, ${written.length} written`;
  const index = written.findIndex((rule, position) => !sameRule(rule, listed[position]!));
  return index < 0 ? null : `rule ${index + 1} is "${listed[index]}" in the kernel, "${written[index]}" written`;
}

/** A rule as restore read it and as iptables printed it (the same text mostly; else compared canonically). */
function sameRule(written: string, listed: string): boolean {
  return written === listed || canonicalRule(written) === canonicalRule(listed);
}
