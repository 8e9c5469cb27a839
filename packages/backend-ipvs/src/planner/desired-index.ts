import type { IPFamily, ServicePortKey } from '@kplane/core';
import type { PortObjects } from './port-objects.js';
import type { VirtualService } from './virtual-service.js';

/** What the planner asks of the desired objects: the index itself, or a draft of changes over it. */
export interface DesiredObjects {
  /** The virtual service under this key (of the port whose key sorts first, when several claim it). */
  service(key: string): VirtualService | undefined;
  hasMember(entry: string): boolean;
  hasVip(vip: string): boolean;
  /** The shortcut chain's rules of one family. */
  shortcutRules(family: IPFamily): string[];
}

type Claims = ReadonlyMap<ServicePortKey, VirtualService>;
type Counted = 'members' | 'vips' | 'shortcuts';

/**
 * The desired kernel objects of every service port, indexed by object so that a partial sync costs
 * O(changed ports). Objects several ports ask for (a VIP shared by a Service's ports, a hairpin
 * entry) are counted; a virtual service two ports claim goes to the port whose key sorts first.
 */
export class DesiredIndex implements DesiredObjects {
  private readonly ports = new Map<ServicePortKey, PortObjects>();
  private readonly claims = new Map<string, Map<ServicePortKey, VirtualService>>();
  private readonly counts: Record<Counted, Map<string, number>> = { members: new Map(), vips: new Map(), shortcuts: new Map() };

  /** Every port's objects (a full sync's index). */
  static of(ports: Iterable<readonly [ServicePortKey, PortObjects]>): DesiredIndex {
    const index = new DesiredIndex();
    for (const [key, objects] of ports) index.replace(key, objects);
    return index;
  }

  port(key: ServicePortKey): PortObjects | undefined {
    return this.ports.get(key);
  }

  /** Replaces a port's objects (undefined: the port is gone). */
  replace(key: ServicePortKey, objects: PortObjects | undefined): void {
    const previous = this.ports.get(key);
    if (previous) contribute(this.claims, this.counts, key, previous, -1);
    if (objects) contribute(this.claims, this.counts, key, objects, 1);
    if (objects) this.ports.set(key, objects);
    else this.ports.delete(key);
  }

  /** Changes seen over this index without touching it: a partial sync plans with one and commits it once the kernel took the batches. */
  draft(): DesiredDraft {
    return new DesiredDraft(this);
  }

  claimsOf(key: string): Claims | undefined {
    return this.claims.get(key);
  }

  count(kind: Counted, item: string): number {
    return this.counts[kind].get(item) ?? 0;
  }

  service(key: string): VirtualService | undefined {
    return firstClaim(this.claims.get(key));
  }

  hasMember(entry: string): boolean {
    return this.counts.members.has(entry);
  }

  hasVip(vip: string): boolean {
    return this.counts.vips.has(vip);
  }

  shortcutRules(family: IPFamily): string[] {
    return familyRules(this.counts.shortcuts.keys(), family);
  }

  serviceKeys(): IterableIterator<string> {
    return this.claims.keys();
  }

  allMembers(): IterableIterator<string> {
    return this.counts.members.keys();
  }

  allVips(): IterableIterator<string> {
    return this.counts.vips.keys();
  }
}

/** Port changes over an index: counts as differences, the claims of each touched virtual service copied on first touch. */
export class DesiredDraft implements DesiredObjects {
  private readonly ports = new Map<ServicePortKey, PortObjects | undefined>();
  private readonly claims = new Map<string, Map<ServicePortKey, VirtualService>>();
  private readonly deltas: Record<Counted, Map<string, number>> = { members: new Map(), vips: new Map(), shortcuts: new Map() };

  constructor(private readonly index: DesiredIndex) {}

  /** Replaces a port's objects in the draft; returns those it had before. */
  replace(key: ServicePortKey, objects: PortObjects | undefined): PortObjects | undefined {
    const previous = this.ports.has(key) ? this.ports.get(key) : this.index.port(key);
    for (const service of [...(previous?.services ?? []), ...(objects?.services ?? [])]) {
      if (!this.claims.has(service.key)) this.claims.set(service.key, new Map(this.index.claimsOf(service.key)));
    }
    if (previous) contribute(this.claims, this.deltas, key, previous, -1, true);
    if (objects) contribute(this.claims, this.deltas, key, objects, 1, true);
    this.ports.set(key, objects);
    return previous;
  }

  service(key: string): VirtualService | undefined {
    return firstClaim(this.claims.has(key) ? this.claims.get(key) : this.index.claimsOf(key));
  }

  hasMember(entry: string): boolean {
    return this.counted('members', entry);
  }

  hasVip(vip: string): boolean {
    return this.counted('vips', vip);
  }

  shortcutRules(family: IPFamily): string[] {
    const rules = new Set([...this.index.shortcutRules(family).map((rule) => `${family} ${rule}`), ...this.deltas.shortcuts.keys()]);
    return familyRules([...rules].filter((rule) => this.counted('shortcuts', rule)), family);
  }

  /** Applies the draft's changes to its index. */
  commit(): void {
    for (const [key, objects] of this.ports) this.index.replace(key, objects);
  }

  private counted(kind: Counted, item: string): boolean {
    return this.index.count(kind, item) + (this.deltas[kind].get(item) ?? 0) > 0;
  }
}

/**
 * Adds (sign 1) or takes away (-1) one port's objects: its claims and its counts. The index forgets
 * a virtual service no port claims; a draft keeps its empty claims (`keepEmpty`), which hide the index's.
 */
function contribute(claims: Map<string, Map<ServicePortKey, VirtualService>>, counts: Record<Counted, Map<string, number>>, port: ServicePortKey, objects: PortObjects, sign: 1 | -1, keepEmpty = false): void {
  for (const service of objects.services) {
    const serviceClaims = claims.get(service.key) ?? new Map<ServicePortKey, VirtualService>();
    if (sign > 0) serviceClaims.set(port, service);
    else serviceClaims.delete(port);
    if (serviceClaims.size > 0 || keepEmpty) claims.set(service.key, serviceClaims);
    else claims.delete(service.key);
  }
  for (const entry of objects.members) count(counts.members, entry, sign);
  for (const vip of objects.vips) count(counts.vips, vip, sign);
  for (const rule of objects.shortcuts) count(counts.shortcuts, rule, sign);
}

/** Adds `delta` to a count; a count of 0 is no entry (a draft's differences may go below 0). */
function count(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next !== 0) counts.set(key, next);
  else counts.delete(key);
}

function firstClaim(claims: Claims | undefined): VirtualService | undefined {
  if (!claims) return undefined;
  let first: ServicePortKey | undefined;
  for (const port of claims.keys()) if (first === undefined || port < first) first = port;
  return first === undefined ? undefined : claims.get(first);
}

/** The rules of one family among `family rule` strings, without the prefix. */
function familyRules(rules: Iterable<string>, family: IPFamily): string[] {
  const prefix = `${family} `;
  return [...rules].filter((rule) => rule.startsWith(prefix)).map((rule) => rule.slice(prefix.length));
}
