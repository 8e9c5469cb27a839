import { hostCIDR, ipFamily, type IPFamily } from '@kplane/core';
import type { DesiredIndex } from './desired-index.js';
import { chainKey, iptablesRestore, type Chain, type Jump } from './iptables-rules.js';
import type { KernelState } from './kernel-state.js';
import { DUMMY_INTERFACE } from './names.js';
import { FAMILIES, SET_KINDS, SET_NAMES } from './sets.js';
import { sameService, type VirtualService } from './virtual-service.js';

/** What a sync changes in kplane's kernel objects (applied to the predicted state once the sync succeeded). */
export interface KernelUpdates {
  /** Virtual service key → what it is now (null: deleted). */
  readonly services: ReadonlyMap<string, VirtualService | null>;
  readonly members: { readonly add: readonly string[]; readonly remove: readonly string[] };
  readonly vips: { readonly add: readonly string[]; readonly remove: readonly string[] };
  readonly chains: readonly Chain[];
}

/** The text of each batch ('' when the tool has nothing to do) and the resulting state changes. */
export interface Plan {
  /** `ipset restore` input: adds and deletes, or at a full sync a fresh copy swapped in for each set that differs. */
  readonly ipset: string;
  /** `iptables-restore --noflush` input per family: the chains that differ and the missing jumps. */
  readonly iptables: ReadonlyMap<IPFamily, string>;
  /** `ipvsadm -R` input. */
  readonly ipvsadm: string;
  /** `ip -batch` input: the dummy interface and its addresses. */
  readonly ip: string;
  readonly updates: KernelUpdates;
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
 * prints each tool's batch. The backend runs them in this order: ipset (a new virtual service is
 * recorded in its frontend set before it exists), iptables (its rules match the sets), ipvsadm,
 * ip (a deleted service's address leaves the dummy interface only after the service is gone).
 */
export function planSync(kernel: KernelState, desired: DesiredIndex, scope: SyncScope): Plan {
  const services = planServices(kernel, desired, scope.services);
  const members = planPresence(scope.members, (entry) => desired.hasMember(entry), kernel.members);
  const vips = planPresence(scope.vips, (vip) => desired.hasVip(vip), kernel.vips);
  const chains = scope.chains.filter((chain) => !sameRules(kernel.chains.get(chainKey(chain)), chain.rules));
  const iptables = new Map<IPFamily, string>();
  for (const family of FAMILIES) {
    const input = iptablesRestore(chains.filter((chain) => chain.family === family), scope.missingJumps.get(family) ?? []);
    if (input) iptables.set(family, input);
  }
  return {
    ipset: scope.full ? swapSets(kernel, members) : patchSets(members),
    iptables,
    ipvsadm: services.lines.join(''),
    ip: ipBatch(kernel, vips, scope.full),
    updates: { services: services.updates, members, vips, chains },
  };
}

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

function planServices(kernel: KernelState, desired: DesiredIndex, keys: Iterable<string>): { lines: string[]; updates: Map<string, VirtualService | null> } {
  const lines: string[] = [];
  const deletions: string[] = [];
  const updates = new Map<string, VirtualService | null>();
  for (const key of [...new Set(keys)].sort()) {
    const want = desired.service(key);
    const have = kernel.services.get(key);
    if (!want) {
      if (have) {
        deletions.push(`-D ${key}\n`);
        updates.set(key, null);
      }
      continue;
    }
    // A draining (weight 0) real server is kept where it is programmed, never added anew.
    const reals = new Map([...want.reals].filter(([real, weight]) => weight > 0 || have?.reals.has(real)).sort(([a], [b]) => compare(a, b)));
    const programmed = { ...want, reals };
    const added: string[] = [];
    const edited: string[] = [];
    for (const [real, weight] of reals) {
      const current = have?.reals.get(real);
      if (current === undefined) added.push(`-a ${key} -r ${real} -m -w ${weight}\n`);
      else if (current !== weight) edited.push(`-e ${key} -r ${real} -m -w ${weight}\n`);
    }
    const removed = [...(have?.reals.keys() ?? [])].filter((real) => !reals.has(real)).sort(compare).map((real) => `-d ${key} -r ${real}\n`);
    const header = !have ? [`-A ${serviceLine(programmed)}\n`] : sameService(have, want) ? [] : [`-E ${serviceLine(programmed)}\n`];
    // New real servers before the old ones leave, so a service in a rolling update is never empty.
    const changes = [...header, ...added, ...edited, ...removed];
    if (changes.length === 0) continue;
    lines.push(...changes);
    updates.set(key, programmed);
  }
  return { lines: [...lines, ...deletions], updates };
}

function serviceLine(service: VirtualService): string {
  return `${service.key} -s ${service.scheduler}${service.persistence === null ? '' : ` -p ${service.persistence}`}`;
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

function patchSets(plan: { add: string[]; remove: string[] }): string {
  return [...plan.add.map((entry) => `add ${entry}\n`), ...plan.remove.map((entry) => `del ${entry}\n`)].join('');
}

/**
 * A full sync rebuilds each set that differs from the kernel: a fresh copy filled and swapped in
 * (flushed when it ends up empty), so each set changes atomically. Sets already right are left alone.
 */
function swapSets(kernel: KernelState, plan: { add: string[]; remove: string[] }): string {
  const changed = new Set([...plan.add, ...plan.remove].map(setOf));
  const after = new Map<string, string[]>(SET_NAMES.map(({ name }) => [name, []]));
  const removed = new Set(plan.remove);
  for (const entry of [...kernel.members, ...plan.add].sort()) {
    if (!removed.has(entry)) after.get(setOf(entry))?.push(entry.slice(entry.indexOf(' ') + 1));
  }
  const lines: string[] = [];
  for (const { name, kind, family } of SET_NAMES) {
    const create = `${SET_KINDS[kind].type} family ${family === 4 ? 'inet' : 'inet6'} ${SET_OPTIONS}`;
    lines.push(`create ${name} ${create}\n`);
    if (!changed.has(name)) continue;
    const entries = after.get(name)!;
    if (entries.length === 0) {
      lines.push(`flush ${name}\n`);
      continue;
    }
    const copy = `${name}~`;
    lines.push(`create ${copy} ${create}\n`, `flush ${copy}\n`, ...entries.map((entry) => `add ${copy} ${entry}\n`), `swap ${copy} ${name}\n`, `destroy ${copy}\n`);
  }
  return lines.join('');
}

function setOf(entry: string): string {
  return entry.slice(0, entry.indexOf(' '));
}

function ipBatch(kernel: KernelState, vips: { add: string[]; remove: string[] }, full: boolean): string {
  const lines: string[] = [];
  if (full && !kernel.dummy) lines.push(`link add ${DUMMY_INTERFACE} type dummy\n`);
  if (full) lines.push(`link set ${DUMMY_INTERFACE} up\n`);
  for (const vip of vips.add) lines.push(`address add ${hostCIDR(vip)} dev ${DUMMY_INTERFACE}${ipFamily(vip) === 6 ? ' nodad' : ''}\n`);
  for (const vip of vips.remove) lines.push(`address del ${hostCIDR(vip)} dev ${DUMMY_INTERFACE}\n`);
  return lines.join('');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
