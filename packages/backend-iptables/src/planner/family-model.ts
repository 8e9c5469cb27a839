import { IPTABLES_TABLES, type IptablesRules, type IptablesTable, type IptablesTransaction, type ServicePortKey } from '@kplane/core';
import type { PrefixTree } from '../tree/prefix-tree.js';
import { EMPTY_PLAN, type AddressItem, type PortPlan } from './port-plan.js';
import type { FamilySettings } from './settings.js';
import { emptyTrees, type Trees } from './trees.js';

/**
 * The backend's idea of what the kernel holds of kplane's in one IP family: the trees, what each
 * service port contributes, and every chain written, so that a partial sync sends only what
 * differs and the kernel is never listed on that path. Planners only read it; a plan's commit()
 * records into it, after the kernel took every restore of the plan.
 */
export class FamilyModel {
  private current: Trees;
  private readonly ports = new Map<ServicePortKey, PortPlan>();
  private readonly chains = new Map<IptablesTable, Map<string, string>>(IPTABLES_TABLES.map((table) => [table, new Map()]));

  constructor(readonly settings: FamilySettings) {
    this.current = emptyTrees(settings);
  }

  get trees(): Trees {
    return this.current;
  }

  /** The tree of service IPs (tests and the bench look at its shape). */
  get addresses(): PrefixTree<AddressItem> {
    return this.current.addresses;
  }

  /** Nothing recorded (start-up, after cleanup): what the kernel holds is unknown, only a full sync can start from here. */
  get empty(): boolean {
    return IPTABLES_TABLES.every((table) => this.chains.get(table)!.size === 0);
  }

  port(key: ServicePortKey): PortPlan {
    return this.ports.get(key) ?? EMPTY_PLAN;
  }

  /** True when the chain was never written with exactly these rules. */
  differs(table: IptablesTable, chain: string, rules: IptablesRules): boolean {
    return this.chains.get(table)!.get(chain) !== rules.join('\n');
  }

  /** The rules a chain was last written with, or undefined when kplane has no such chain. */
  rules(table: IptablesTable, chain: string): IptablesRules | undefined {
    const rules = this.chains.get(table)!.get(chain);
    return rules === undefined ? undefined : rules === '' ? [] : rules.split('\n');
  }

  chainNames(table: IptablesTable): Iterable<string> {
    return this.chains.get(table)!.keys();
  }

  /** kplane's chains in `table`, as written (tests and the bench read the kernel back against it). */
  writtenChains(table: IptablesTable): Map<string, IptablesRules> {
    return new Map([...this.chains.get(table)!.keys()].map((chain) => [chain, this.rules(table, chain)!]));
  }

  /** A full sync's commit: its trees and ports replace the model's, its restores are all there is. */
  replace(trees: Trees, ports: ReadonlyMap<ServicePortKey, PortPlan>, transactions: readonly IptablesTransaction[]): void {
    this.current = trees;
    this.ports.clear();
    for (const [key, plan] of ports) this.ports.set(key, plan);
    for (const chains of this.chains.values()) chains.clear();
    this.record(transactions);
  }

  /** A partial sync's commit: the trees it changed (null: none), the changed ports (EMPTY_PLAN: gone), its restores. */
  update(trees: Trees | null, ports: ReadonlyMap<ServicePortKey, PortPlan>, transactions: readonly IptablesTransaction[]): void {
    if (trees) this.current = trees;
    for (const [key, plan] of ports) {
      if (plan === EMPTY_PLAN) this.ports.delete(key);
      else this.ports.set(key, plan);
    }
    this.record(transactions);
  }

  private record(transactions: readonly IptablesTransaction[]): void {
    for (const [table, chains] of this.chains) {
      for (const transaction of transactions) {
        for (const [chain, rules] of transaction.written(table)) chains.set(chain, rules.join('\n'));
        for (const chain of transaction.deleted(table)) chains.delete(chain);
      }
    }
  }
}
