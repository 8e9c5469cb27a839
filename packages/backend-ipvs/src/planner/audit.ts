import { IPTABLES_TABLES, iptablesCommand, type IptablesRules } from '@kplane/core';
import type { IpvsClient } from '../client/client.js';
import { parseIpVsTable, type TableService } from '../kernel/ip-vs-table.js';
import { parseSetHeaders } from '../kernel/ipset-headers.js';
import { jumpCount, listRules, ownChains } from '../kernel/iptables-listing.js';
import { parseAddresses, parseIpsetSave } from '../kernel/kernel-state.js';
import { JUMPS } from './iptables-rules.js';
import type { IpvsModel } from './model.js';
import { DUMMY_INTERFACE } from './names.js';
import { FAMILIES, SET_NAMES, member } from './sets.js';
import type { VirtualService } from './virtual-service.js';

/** The kernel's timer ticks a second (CONFIG_HZ) it may have been built with: `/proc/net/ip_vs` prints persistence in ticks. */
const KERNEL_HZ: readonly number[] = [100, 250, 300, 1000];

/**
 * The ipvs backend's drift check (issue 15: tampering): the kernel against the model (what the
 * last syncs wrote), kplane's objects only. Every audit reads, in 8 process starts:
 * - `/proc/net/ip_vs` (`cat`): the whole IPVS table in one read of the kernel — every virtual
 *   service of the model is compared (present, scheduler, persistence, each real server and its
 *   weight). `ipvsadm -S -n` would cost one netlink request per service (20 s for 10,000 in the VM).
 * - `ipset list -t`: each set's number of entries, without its members; a set lacking a member
 *   (`ipset del`) or holding one more, or gone, shows there.
 * - `ipset save <set>` of one set in turn (the window): its members compared one by one, which finds
 *   a member replaced by another (the count unchanged). Sets the model holds empty are skipped (the
 *   count says enough).
 * - `ip -o address show dev kplane-ipvs0`: the service addresses, compared one by one.
 * - `iptables -S` / `ip6tables -S` of nat and filter: kplane's chains rule by rule, and its jumps.
 * What it costs at 20,000 ClusterIP services with two endpoints each (test/audit-cost.measure.ts,
 * listings as the fake prints them): 6-8 MB in the 8 reads — /proc/net/ip_vs 2.9 MB, the addresses
 * 2.2 MB, the window's set 0.7-2.5 MB (vip, cluster-ip, hairpin), the rest 8 KB — and 140-190 ms of
 * the agent's CPU to parse and compare them (a loaded 2-core host), about 3% of a core at the
 * default 5 s period; a full sync's listing is 8.9 MB, of it `ipvsadm -S -n`'s 2.6 MB in 20,000
 * netlink requests and every set's members (4.1 MB). In the IPVS VM (emulated, 5-10× slower) at
 * 10,000 services: 3.7-7.4 s an audit (/proc/net/ip_vs 0.4 s, the window's set up to 4.7 s) against
 * 10.9 s for a full sync's listing (scripts/ipvs-vm/measure-sync.sh).
 * Worst case, in audit periods: a removed or changed virtual service or real server, a removed or
 * added member, a removed set, address, dummy, chain, rule or jump: the next audit (1). A member
 * replaced by another in the same set: one round of the window (as many audits as kplane has
 * non-empty sets, at most 18). A persistence timeout changed to another one is missed when the
 * kernel's ticks for it could be the old one's at another HZ (600 s → 150 s at HZ 1000 reads as
 * 600 s at HZ 250); the hourly full sync repairs that. Foreign virtual services, sets, chains and
 * rules are not compared.
 */
export class IpvsAudit {
  /** Where the window of sets goes on: the index in SET_NAMES of the set the next audit lists. */
  private nextSet = 0;

  constructor(private readonly client: IpvsClient) {}

  /** One line per difference, [] when the kernel holds what the model says. */
  async run(model: IpvsModel): Promise<string[]> {
    const kernel = model.kernel;
    if (!kernel.dummy) return []; // nothing written yet
    return [
      ...servicesDrift(kernel.services, parseIpVsTable(await this.client.readIpvsTable())),
      ...(await this.setsDrift(kernel.members)),
      ...addressDrift(kernel.vips, await this.client.listAddresses(DUMMY_INTERFACE)),
      ...(await this.rulesDrift(kernel.chains)),
    ];
  }

  /** Every set's count, and the members of the next non-empty one. */
  private async setsDrift(members: ReadonlySet<string>): Promise<string[]> {
    const written = new Map<string, string[]>(SET_NAMES.map(({ name }) => [name, []]));
    for (const entry of members) written.get(entry.slice(0, entry.indexOf(' ')))?.push(entry);
    const listed = parseSetHeaders(await this.client.listSetHeaders());
    const drift: string[] = [];
    for (const [name, entries] of written) {
      const count = listed.get(name);
      if (count === undefined) drift.push(`ipset: set ${name} is missing`);
      else if (count !== entries.length) drift.push(`ipset: set ${name} has ${count} entries, kplane wrote ${entries.length}`);
    }
    const windowSet = this.nextWindowSet(written);
    if (windowSet === undefined || drift.length > 0) return drift;
    const saved = new Set((parseIpsetSave(await this.client.saveSets(windowSet)).get(windowSet) ?? []).map((entry) => member(windowSet, entry)));
    for (const entry of written.get(windowSet)!) if (!saved.has(entry)) drift.push(`ipset: set ${windowSet} lacks ${entry.slice(windowSet.length + 1)}`);
    for (const entry of saved) if (!members.has(entry)) drift.push(`ipset: set ${windowSet} holds ${entry.slice(windowSet.length + 1)}, which kplane did not write`);
    return drift;
  }

  /** The next set in turn that the model holds members of. */
  private nextWindowSet(written: ReadonlyMap<string, readonly string[]>): string | undefined {
    for (let step = 0; step < SET_NAMES.length; step++) {
      const { name } = SET_NAMES[(this.nextSet + step) % SET_NAMES.length]!;
      if (written.get(name)!.length === 0) continue;
      this.nextSet = (this.nextSet + step + 1) % SET_NAMES.length;
      return name;
    }
    return undefined;
  }

  /** kplane's chains and jumps in both families' nat and filter tables. */
  private async rulesDrift(chains: ReadonlyMap<string, IptablesRules>): Promise<string[]> {
    const drift: string[] = [];
    for (const family of FAMILIES) {
      const tool = iptablesCommand(family);
      const listing = await listRules(this.client, family);
      for (const jump of JUMPS) {
        if (jumpCount(listing, jump) === 0) drift.push(`${tool}: ${jump.table} ${jump.chain} has no jump to ${jump.target}`);
      }
      const listed = new Map(IPTABLES_TABLES.flatMap((table) => [...ownChains(listing, table)]));
      for (const [key, rules] of chains) {
        if (!key.startsWith(`${family} `)) continue;
        const name = key.slice(key.indexOf(' ') + 1);
        const difference = chainDifference(rules, listed.get(name));
        if (difference) drift.push(`${tool}: chain ${name} ${difference}`);
      }
    }
    return drift;
  }
}

/** kplane's virtual services against the kernel's table (foreign ones not looked at). */
function servicesDrift(written: ReadonlyMap<string, VirtualService>, table: ReadonlyMap<string, TableService>): string[] {
  const drift: string[] = [];
  for (const [key, service] of written) {
    const listed = table.get(key);
    if (!listed) {
      drift.push(`ipvs: virtual service ${key} is missing`);
      continue;
    }
    if (listed.scheduler !== service.scheduler) drift.push(`ipvs: virtual service ${key} is scheduled by ${listed.scheduler}, kplane wrote ${service.scheduler}`);
    if (!samePersistence(service.persistence, listed.persistenceJiffies)) drift.push(`ipvs: virtual service ${key} has another persistence than the ${service.persistence ?? 'none'} kplane wrote`);
    for (const [real, weight] of service.reals) {
      const listedWeight = listed.reals.get(real);
      if (listedWeight === undefined) drift.push(`ipvs: virtual service ${key} lacks real server ${real}`);
      else if (listedWeight !== weight) drift.push(`ipvs: virtual service ${key} has real server ${real} at weight ${listedWeight}, kplane wrote ${weight}`);
    }
    for (const real of listed.reals.keys()) if (!service.reals.has(real)) drift.push(`ipvs: virtual service ${key} has real server ${real}, which kplane did not write`);
  }
  return drift;
}

/** Seconds as written, ticks as listed. */
function samePersistence(seconds: number | null, jiffies: number | null): boolean {
  if (seconds === null || jiffies === null) return seconds === jiffies;
  return KERNEL_HZ.some((hz) => seconds * hz === jiffies);
}

/** The service addresses on the dummy interface (listing null: the interface is gone). */
function addressDrift(written: ReadonlySet<string>, listing: string | null): string[] {
  if (listing === null) return [`ip: ${DUMMY_INTERFACE} is missing`];
  const listed = new Set(parseAddresses(listing));
  const drift = [...written].filter((vip) => !listed.has(vip)).map((vip) => `ip: ${DUMMY_INTERFACE} lacks ${vip}`);
  for (const vip of listed) if (!written.has(vip)) drift.push(`ip: ${DUMMY_INTERFACE} holds ${vip}, which kplane did not write`);
  return drift;
}

/** What differs between a chain as written and as listed (undefined: missing), or null (also `kplane plan --diff`'s, planner/diff.ts). */
export function chainDifference(written: IptablesRules, listed: IptablesRules | undefined): string | null {
  if (listed === undefined) return 'is missing';
  if (listed.length !== written.length) return `has ${listed.length} rules, kplane wrote ${written.length}`;
  const index = written.findIndex((rule, position) => rule !== listed[position]);
  return index < 0 ? null : `rule ${index + 1} is "${listed[index]}", kplane wrote "${written[index]}"`;
}
