import { hostCIDR, IptablesTransaction, type IPFamily } from '@kplane/core';
import { IpsetTransaction, IpTransaction, IpvsadmTransaction } from '../client/transaction.js';
import type { KernelState } from '../kernel/kernel-state.js';
import type { DesiredObjects } from './desired-index.js';
import { chainKey, jumpRule, type Chain, type Jump } from './iptables-rules.js';
import { DUMMY_INTERFACE } from './names.js';
import { FAMILIES, SET_KINDS, SET_NAMES } from './sets.js';
import { sameService, type VirtualService } from './virtual-service.js';

/** The batches of one sync, one per tool (empty when the tool has nothing to do), in the order the backend sends them. */
export interface IpvsBatches {
  /** `ipset restore -exist`: adds and deletes, or at a full sync a fresh copy swapped in for each set that differs. */
  readonly sets: IpsetTransaction;
  /** `iptables-restore --noflush` per family: the chains that differ and the missing jumps. */
  readonly rules: ReadonlyMap<IPFamily, IptablesTransaction>;
  /** `ipvsadm -R`. */
  readonly services: IpvsadmTransaction;
  /** `ip -batch`: the dummy interface and its addresses. */
  readonly addresses: IpTransaction;
}

/** A planned sync: its batches, and `commit()`, which the backend calls once the kernel took them all. */
export interface IpvsPlan extends IpvsBatches {
  commit(): void;
}

/** What a sync changes in kplane's kernel objects (applied to the model once the sync succeeded). */
export interface KernelUpdates {
  /** Virtual service key → what it is now (null: deleted). */
  readonly services: ReadonlyMap<string, VirtualService | null>;
  readonly members: { readonly add: readonly string[]; readonly remove: readonly string[] };
  readonly vips: { readonly add: readonly string[]; readonly remove: readonly string[] };
  readonly chains: readonly Chain[];
}

/** What a sync looks at: the objects of the changed ports (before and after), or every object at a full sync. */
export interface SyncScope {
  readonly full: boolean;
  readonly services: Iterable<string>;
  readonly members: Iterable<string>;
  readonly vips: Iterable<string>;
  /** kplane's chains as they should be (all of them at a full sync; the shortcut chain when a shortcut changed). */
  readonly chains: readonly Chain[];
  /** Jumps from built-in chains that the kernel lacks (full syncs list them). */
  readonly missingJumps: ReadonlyMap<IPFamily, readonly Jump[]>;
}

/** Creation parameters of every set: fixed, so `create` of an existing set is a no-op. */
const SET_OPTIONS = 'hashsize 1024 maxelem 1048576';

/**
 * Plans one sync (pure): compares the desired objects with the kernel's, within the scope, and
 * builds each tool's batch and the updates the model takes once they are applied. The backend
 * runs them in this order: ipset (a new virtual service is recorded in its frontend set before it
 * exists), iptables (its rules match the sets), ipvsadm, ip (a deleted service's address leaves
 * the dummy interface only after the service is gone).
 */
export function planSync(kernel: KernelState, desired: DesiredObjects, scope: SyncScope): IpvsBatches & { readonly updates: KernelUpdates } {
  const services = planServices(kernel, desired, scope.services);
  const members = planPresence(scope.members, (entry) => desired.hasMember(entry), kernel.members);
  const vips = planPresence(scope.vips, (vip) => desired.hasVip(vip), kernel.vips);
  const chains = scope.chains.filter((chain) => !sameRules(kernel.chains.get(chainKey(chain)), chain.rules));
  const rules = new Map<IPFamily, IptablesTransaction>();
  for (const family of FAMILIES) {
    const transaction = new IptablesTransaction();
    for (const chain of chains) if (chain.family === family) transaction.writeChain(chain.table, chain.name, chain.rules);
    // Missing jumps go first in their chain, ahead of whatever another program put there.
    for (const jump of scope.missingJumps.get(family) ?? []) transaction.insertRule(jump.table, jump.chain, jumpRule(jump));
    rules.set(family, transaction);
  }
  return {
    sets: scope.full ? swapSets(kernel, members) : patchSets(members),
    rules,
    services: services.transaction,
    addresses: ipBatch(kernel, vips, scope.full),
    updates: { services: services.updates, members, vips, chains },
  };
}

/** The model after a successful sync: `kernel` with the sync's changes. */
export function applyUpdates(kernel: KernelState, updates: KernelUpdates): void {
  for (const [key, service] of updates.services) {
    if (service) kernel.services.set(key, service);
    else kernel.services.delete(key);
  }
  for (const entry of updates.members.remove) kernel.members.delete(entry);
  for (const entry of updates.members.add) kernel.members.add(entry);
  for (const vip of updates.vips.remove) kernel.vips.delete(vip);
  for (const vip of updates.vips.add) kernel.vips.add(vip);
  for (const chain of updates.chains) kernel.chains.set(chainKey(chain), chain.rules);
  kernel.dummy = true;
}

function sameRules(have: readonly string[] | undefined, want: readonly string[]): boolean {
  return have !== undefined && have.length === want.length && have.every((rule, index) => rule === want[index]);
}

/** The `ipvsadm -R` changes of the virtual services under `keys`: edits in key order, then the deletions. */
function planServices(kernel: KernelState, desired: DesiredObjects, keys: Iterable<string>): { transaction: IpvsadmTransaction; updates: Map<string, VirtualService | null> } {
  const transaction = new IpvsadmTransaction();
  const deletions: string[] = [];
  const updates = new Map<string, VirtualService | null>();
  for (const key of [...new Set(keys)].sort()) {
    const want = desired.service(key);
    const have = kernel.services.get(key);
    if (!want) {
      if (have) {
        deletions.push(key);
        updates.set(key, null);
      }
      continue;
    }
    // A draining (weight 0) real server is kept where it is programmed, never added anew.
    const reals = new Map([...want.reals].filter(([real, weight]) => weight > 0 || have?.reals.has(real)).sort(([a], [b]) => compare(a, b)));
    const programmed = { ...want, reals };
    const current = (real: string): number | undefined => have?.reals.get(real);
    const added = [...reals].filter(([real]) => current(real) === undefined);
    const edited = [...reals].filter(([real, weight]) => current(real) !== undefined && current(real) !== weight);
    const removed = [...(have?.reals.keys() ?? [])].filter((real) => !reals.has(real)).sort(compare);
    const header = !have || !sameService(have, want);
    if (!header && added.length + edited.length + removed.length === 0) continue;
    if (!have) transaction.addService(programmed);
    else if (header) transaction.editService(programmed);
    // New real servers before the old ones leave, so a service in a rolling update is never empty.
    for (const [real, weight] of added) transaction.addReal(key, real, weight);
    for (const [real, weight] of edited) transaction.editReal(key, real, weight);
    for (const real of removed) transaction.deleteReal(key, real);
    updates.set(key, programmed);
  }
  for (const key of deletions) transaction.deleteService(key);
  return { transaction, updates };
}

/** What to add and remove so that `present` holds exactly the wanted ones among `items`. */
function planPresence(items: Iterable<string>, wanted: (item: string) => boolean, present: ReadonlySet<string>): { add: string[]; remove: string[] } {
  const plan = { add: [] as string[], remove: [] as string[] };
  for (const item of [...new Set(items)].sort()) {
    const want = wanted(item);
    if (want && !present.has(item)) plan.add.push(item);
    if (!want && present.has(item)) plan.remove.push(item);
  }
  return plan;
}

function patchSets(plan: { add: string[]; remove: string[] }): IpsetTransaction {
  const transaction = new IpsetTransaction(true);
  for (const entry of plan.add) transaction.add(setOf(entry), entryOf(entry));
  for (const entry of plan.remove) transaction.del(setOf(entry), entryOf(entry));
  return transaction;
}

/**
 * A full sync rebuilds each set that differs from the kernel: a fresh copy filled and swapped in
 * (flushed when it ends up empty), so each set changes atomically. Sets already right are left alone.
 */
function swapSets(kernel: KernelState, plan: { add: string[]; remove: string[] }): IpsetTransaction {
  const changed = new Set([...plan.add, ...plan.remove].map(setOf));
  const after = new Map<string, string[]>(SET_NAMES.map(({ name }) => [name, []]));
  const removed = new Set(plan.remove);
  for (const entry of [...kernel.members, ...plan.add].sort()) {
    if (!removed.has(entry)) after.get(setOf(entry))?.push(entryOf(entry));
  }
  const transaction = new IpsetTransaction(true);
  for (const { name, kind, family } of SET_NAMES) {
    transaction.create(name, SET_KINDS[kind].type, family, SET_OPTIONS);
    if (!changed.has(name)) continue;
    const entries = after.get(name)!;
    if (entries.length === 0) {
      transaction.flush(name);
      continue;
    }
    const copy = `${name}~`;
    transaction.create(copy, SET_KINDS[kind].type, family, SET_OPTIONS).flush(copy);
    for (const entry of entries) transaction.add(copy, entry);
    transaction.swap(copy, name).destroy(copy);
  }
  return transaction;
}

/** The set of a `set entry` member. */
function setOf(member: string): string {
  return member.slice(0, member.indexOf(' '));
}

/** The entry of a `set entry` member. */
function entryOf(member: string): string {
  return member.slice(member.indexOf(' ') + 1);
}

function ipBatch(kernel: KernelState, vips: { add: string[]; remove: string[] }, full: boolean): IpTransaction {
  const transaction = new IpTransaction();
  if (full && !kernel.dummy) transaction.addDummy(DUMMY_INTERFACE);
  if (full) transaction.setUp(DUMMY_INTERFACE);
  for (const vip of vips.add) transaction.addAddress(hostCIDR(vip), DUMMY_INTERFACE);
  for (const vip of vips.remove) transaction.deleteAddress(hostCIDR(vip), DUMMY_INTERFACE);
  return transaction;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
