import { IPTABLES_TABLES, type IPFamily, type IptablesRules } from '@kplane/core';
import type { IpvsClient } from '../client/client.js';
import { chainKey } from '../planner/iptables-rules.js';
import { DUMMY_INTERFACE, SET_PREFIX } from '../planner/names.js';
import { member, recordedService, SET_NAMES } from '../planner/sets.js';
import { keyAddress, type VirtualService } from '../planner/virtual-service.js';
import { parseAddressListing } from './address-listing.js';
import { ownChains, type RuleListing } from './iptables-listing.js';

/** kplane's objects in the kernel: read at a full sync, then predicted from each successful sync. */
export interface KernelState {
  readonly services: Map<string, VirtualService>;
  /** `set entry` strings of kplane's sets. */
  readonly members: Set<string>;
  readonly vips: Set<string>;
  dummy: boolean;
  /** kplane's iptables chains, by `family name`: their rules as `iptables -S` prints them after `-A <chain> `. */
  readonly chains: Map<string, IptablesRules>;
}

/** The kernel as listed: every virtual service, kplane's sets, the dummy's addresses (null: no dummy). */
export interface KernelListing {
  readonly services: readonly VirtualService[];
  readonly sets: ReadonlyMap<string, readonly string[]>;
  readonly vips: readonly string[] | null;
}

/** Lists the kernel: one call per tool, only at full syncs and cleanup (never on the hot path). */
export async function listKernel(client: IpvsClient): Promise<KernelListing> {
  const [services, sets, addresses] = await Promise.all([client.saveServices(), client.saveSets(), client.listAddresses(DUMMY_INTERFACE)]);
  return { services: parseIpvsadmSave(services), sets: parseIpsetSave(sets), vips: addresses === null ? null : parseAddresses(addresses) };
}

/**
 * kplane's part of a listing. A virtual service is kplane's when its address is on the dummy
 * interface or a frontend set records it; one the desired state names is taken over as well.
 */
export function ownedState(listing: KernelListing, rules: ReadonlyMap<IPFamily, RuleListing>, desired: (key: string) => boolean): KernelState {
  const members = new Set<string>();
  for (const { name } of SET_NAMES) for (const entry of listing.sets.get(name) ?? []) members.add(member(name, entry));
  const recorded = new Set([...members].map(recordedService).filter((key) => key !== null));
  const vips = new Set(listing.vips ?? []);
  const services = new Map<string, VirtualService>();
  for (const service of listing.services) {
    if (vips.has(keyAddress(service.key)) || recorded.has(service.key) || desired(service.key)) services.set(service.key, service);
  }
  const chains = new Map<string, IptablesRules>();
  for (const [family, listed] of rules) {
    for (const table of IPTABLES_TABLES) for (const [name, chainRules] of ownChains(listed, table)) chains.set(chainKey({ family, name }), chainRules);
  }
  return { services, members, vips, dummy: listing.vips !== null, chains };
}

/** `ipvsadm -S -n`: `-A -t 10.96.0.10:80 -s rr [-p 60]` and `-a -t 10.96.0.10:80 -r 10.1.0.1:8080 -m -w 1` lines. */
export function parseIpvsadmSave(text: string): VirtualService[] {
  const services = new Map<string, { key: string; scheduler: string; persistence: number | null; reals: Map<string, number> }>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words.length < 3 || (words[0] !== '-A' && words[0] !== '-a')) continue;
    const key = `${words[1]} ${words[2]}`;
    const option = (name: string): string | undefined => {
      const index = words.indexOf(name, 3);
      return index < 0 ? undefined : words[index + 1];
    };
    if (words[0] === '-A') {
      const persistence = option('-p');
      services.set(key, { key, scheduler: option('-s') ?? 'wlc', persistence: persistence === undefined ? null : Number(persistence), reals: new Map() });
    } else {
      const real = option('-r');
      if (real !== undefined) services.get(key)?.reals.set(real, Number(option('-w') ?? 1));
    }
  }
  return [...services.values()];
}

/** `ipset save`: the entries of this backend's sets, by set name. */
export function parseIpsetSave(text: string): Map<string, string[]> {
  const sets = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [command, name = '', entry] = line.trim().split(/\s+/);
    if (!name.startsWith(SET_PREFIX)) continue;
    const entries = sets.get(name) ?? [];
    sets.set(name, entries);
    if (command === 'add' && entry !== undefined) entries.push(entry);
  }
  return sets;
}

/** `ip -o address show dev kplane-ipvs0`: the addresses kplane put there (not the kernel's link-local one). */
export function parseAddresses(text: string): string[] {
  return parseAddressListing(text).filter(({ scope }) => scope !== 'link').map(({ address }) => address);
}
