import { IPTABLES_TABLES, IptablesTransaction, type IptablesRules, type IptablesTable, type ProxyState, type ServicePortKey } from '@kplane/core';
import type { KernelAudit } from '../iptables/audit.js';
import { RestorePacker } from '../iptables/restore-packer.js';
import { PrefixTree, type TreeItem, type TreeNode } from '../tree/prefix-tree.js';
import { addressWidth } from './addresses.js';
import { HOOKS, baseChains, servicesChain } from './base-chains.js';
import { CHAIN, nodePortRoot } from './names.js';
import { EMPTY_PLAN, planPort, type AddressItem, type NodePortItem, type PortPlan } from './port-plan.js';
import { PROTOCOLS, type FamilySettings } from './settings.js';
import { addressNodeRules, nodePortNodeRules } from './tree-rules.js';

/** Restores to send in order (one, except for a full sync split by its line budget), and what to record once the kernel took them all. */
export interface PlannedSync {
  readonly transactions: readonly IptablesTransaction[];
  commit(): void;
}

/**
 * kplane's rules in one IP family: the trees (service IPs; node ports per protocol), what each
 * service port contributes, and a model of every chain written, so that a partial sync sends only
 * what differs and the kernel is never listed on that path. Planning is pure text production over
 * this model; the model takes a plan only through `commit()`, after the restore succeeded. (The
 * trees move ahead while planning: after a failed restore the backend rebuilds with a full sync.)
 */
export class FamilyTables {
  readonly addresses: PrefixTree<AddressItem>;
  readonly nodePorts: ReadonlyMap<string, PrefixTree<NodePortItem>>;
  private readonly treeChains: readonly TreeChains[];
  private ports = new Map<ServicePortKey, PortPlan>();
  private readonly written = new Map<IptablesTable, Map<string, string>>(IPTABLES_TABLES.map((table) => [table, new Map()]));

  constructor(readonly settings: FamilySettings) {
    this.addresses = new PrefixTree({ width: addressWidth(settings.family), capacity: settings.leafSize, root: CHAIN.addresses });
    const nodePorts = PROTOCOLS.map((protocol) => ({ protocol, tree: new PrefixTree<NodePortItem>({ width: 16, capacity: settings.leafSize, root: nodePortRoot(protocol) }) }));
    this.nodePorts = new Map(nodePorts.map(({ protocol, tree }) => [protocol, tree]));
    this.treeChains = [
      treeChains(this.addresses, (node) => addressNodeRules(node, settings.family)),
      ...nodePorts.map(({ protocol, tree }) => treeChains(tree, (node) => nodePortNodeRules(node, protocol))),
    ];
  }

  /**
   * Rewrites all of kplane's chains, deletes the ones it owns but no longer needs, and makes its
   * hooks exactly one each. A full sync that fits `lineBudget` is one restore, atomic. A larger one
   * (iptables-nft, whose restore slows down superlinearly with its size) goes as restores of whole
   * chains in dependency order, each leaving a working ruleset: targets before the chains that jump
   * to them, the trees under fresh names beside the old ones and switched over by their roots,
   * hooks last, then stale chains flushed and deleted.
   */
  planFull(state: ProxyState, audit: KernelAudit, lineBudget = Infinity): PlannedSync {
    this.ports = new Map();
    for (const portState of state.values()) {
      const plan = planPort(portState, this.settings);
      if (plan !== EMPTY_PLAN) this.ports.set(portState.servicePort.key, plan);
    }
    const plans = [...this.ports.values()];
    const owned = new Map(IPTABLES_TABLES.map((table) => [table, new Set([...(audit.chains.get(table) ?? []), ...this.written.get(table)!.keys()])]));
    // A split sync writes the trees under fresh names. Every destination is a rule of a tree leaf, so
    // the ports' chains and one line per destination already tell most split syncs: their trees are
    // built once; near the budget, the trees are built and counted first.
    const fresh = (root: string): number => nextTreeNumber(root, owned.get('nat')!);
    const portLines = plans.reduce((sum, plan) => sum + plan.addresses.length + plan.nodePorts.length + lineCount(plan.chains.values()), 0);
    let treeChains = this.buildTrees(plans, portLines > lineBudget ? fresh : () => 1);
    if (portLines <= lineBudget && portLines + lineCount(treeChains.map(([, rules]) => rules)) > lineBudget) treeChains = this.buildTrees(plans, fresh);

    const packer = new RestorePacker(lineBudget);
    const base = baseChains(this.settings, state.serviceCIDRs);
    const dispatch = new Set<string>([CHAIN.nodePorts, CHAIN.services]);
    const desired = new Map(IPTABLES_TABLES.map((table) => [table, new Set<string>()]));
    const write = (table: IptablesTable, chain: string, rules: IptablesRules) => {
      desired.get(table)!.add(chain);
      packer.add(1 + rules.length, (transaction) => transaction.writeChain(table, chain, rules));
    };
    for (const [chain, rules] of base.get('nat')!) if (!dispatch.has(chain)) write('nat', chain, rules);
    for (const plan of plans) for (const [chain, rules] of plan.chains) write('nat', chain, rules);
    for (const [chain, rules] of treeChains) write('nat', chain, rules);
    for (const chain of dispatch) write('nat', chain, base.get('nat')!.get(chain)!);
    for (const [chain, rules] of base.get('filter')!) write('filter', chain, rules);

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
    return this.planned(packer.transactions(), true);
  }

  /** Builds every tree from the plans, numbering each tree's chains from `firstNumber(root)`; returns their chains, children first. */
  private buildTrees(plans: readonly PortPlan[], firstNumber: (root: string) => number): [string, IptablesRules][] {
    this.addresses.build(plans.flatMap((plan) => plan.addresses), firstNumber(this.addresses.options.root));
    for (const [protocol, tree] of this.nodePorts) {
      tree.build(plans.flatMap((plan) => plan.nodePorts.filter((item) => item.protocol === protocol)), firstNumber(tree.options.root));
    }
    return this.treeChains.flatMap((trees) => [...trees.all()]);
  }

  /** Rewrites only the chains of the changed ports that differ, the tree chains on their paths, and the entry when the service CIDRs changed. */
  planPartial(changed: Iterable<ServicePortKey>, state: ProxyState): PlannedSync {
    const transaction = new IptablesTransaction();
    const entry = servicesChain(this.settings, state.serviceCIDRs);
    if (this.differs('nat', CHAIN.services, entry)) transaction.writeChain('nat', CHAIN.services, entry);
    for (const key of changed) {
      const before = this.ports.get(key) ?? EMPTY_PLAN;
      const current = state.get(key);
      const after = current ? planPort(current, this.settings) : EMPTY_PLAN;
      replaceItems(this.addresses, before.addresses, after.addresses);
      for (const [protocol, tree] of this.nodePorts) {
        replaceItems(tree, before.nodePorts.filter((item) => item.protocol === protocol), after.nodePorts.filter((item) => item.protocol === protocol));
      }
      for (const [chain, rules] of after.chains) if (this.differs('nat', chain, rules)) transaction.writeChain('nat', chain, rules);
      for (const chain of before.chains.keys()) if (!after.chains.has(chain)) transaction.deleteChain('nat', chain);
      if (after === EMPTY_PLAN) this.ports.delete(key);
      else this.ports.set(key, after);
    }
    for (const trees of this.treeChains) {
      const { written, removed } = trees.changes();
      for (const [chain, rules] of written) if (this.differs('nat', chain, rules)) transaction.writeChain('nat', chain, rules);
      for (const chain of removed) transaction.deleteChain('nat', chain);
    }
    return this.planned(transaction.empty ? [] : [transaction], false);
  }

  /** The model of kplane's chains in `table`, as written (tests and the bench read the kernel back against it). */
  writtenChains(table: IptablesTable): Map<string, IptablesRules> {
    return new Map([...this.written.get(table)!].map(([chain, rules]) => [chain, rules === '' ? [] : rules.split('\n')]));
  }

  private differs(table: IptablesTable, chain: string, rules: IptablesRules): boolean {
    return this.written.get(table)!.get(chain) !== rules.join('\n');
  }

  private planned(transactions: readonly IptablesTransaction[], full: boolean): PlannedSync {
    return {
      transactions,
      commit: () => {
        for (const table of IPTABLES_TABLES) {
          const written = full ? new Map<string, string>() : this.written.get(table)!;
          for (const transaction of transactions) {
            for (const [chain, rules] of transaction.written(table)) written.set(chain, rules.join('\n'));
            for (const chain of transaction.deleted(table)) written.delete(chain);
          }
          this.written.set(table, written);
        }
      },
    };
  }
}

/** The chains of one tree with their rules: all of them, or those changed since the last call. */
interface TreeChains {
  all(): Iterable<[string, IptablesRules]>;
  changes(): { written: [string, IptablesRules][]; removed: readonly string[] };
}

function treeChains<T extends TreeItem>(tree: PrefixTree<T>, rules: (node: TreeNode<T>) => IptablesRules): TreeChains {
  return {
    all: () => [...tree.postOrder()].map((node) => [node.chain, rules(node)]),
    changes: () => {
      const { written, removed } = tree.takeChanges();
      return { written: written.map((node) => [node.chain, rules(node)]), removed };
    },
  };
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

/** Moves a port's destinations in a tree from `before` to `after`, touching only those that differ. */
function replaceItems<T extends TreeItem>(tree: PrefixTree<T>, before: readonly T[], after: readonly T[]): void {
  const kept = new Set(after.map((item) => item.id));
  const had = new Set(before.map((item) => item.id));
  for (const item of before) if (!kept.has(item.id)) tree.remove(item);
  for (const item of after) if (!had.has(item.id)) tree.insert(item);
}
