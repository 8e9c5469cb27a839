import type { IPFamily, ServicePortKey } from '@kplane/core';
import type { PortObjects } from './port-objects.js';
import type { VirtualService } from './virtual-service.js';

/**
 * The desired kernel objects of every service port, indexed by object so that a partial sync costs
 * O(changed ports). Objects several ports ask for (a VIP shared by a Service's ports, a hairpin
 * entry) are counted; a virtual service two ports claim goes to the port whose key sorts first.
 */
export class DesiredIndex {
  private readonly ports = new Map<ServicePortKey, PortObjects>();
  private readonly services = new Map<string, Map<ServicePortKey, VirtualService>>();
  private readonly members = new Map<string, number>();
  private readonly vips = new Map<string, number>();
  private readonly shortcuts = new Map<string, number>();

  /** Replaces a port's objects (undefined: the port is gone); returns its previous objects. */
  replace(key: ServicePortKey, objects: PortObjects | undefined): PortObjects | undefined {
    const previous = this.ports.get(key);
    if (previous) {
      for (const service of previous.services) deleteClaim(this.services, service.key, key);
      for (const entry of previous.members) count(this.members, entry, -1);
      for (const vip of previous.vips) count(this.vips, vip, -1);
      for (const rule of previous.shortcuts) count(this.shortcuts, rule, -1);
      this.ports.delete(key);
    }
    if (objects) {
      for (const service of objects.services) {
        const claims = this.services.get(service.key) ?? new Map<ServicePortKey, VirtualService>();
        this.services.set(service.key, claims.set(key, service));
      }
      for (const entry of objects.members) count(this.members, entry, 1);
      for (const vip of objects.vips) count(this.vips, vip, 1);
      for (const rule of objects.shortcuts) count(this.shortcuts, rule, 1);
      this.ports.set(key, objects);
    }
    return previous;
  }

  clear(): void {
    this.ports.clear();
    this.services.clear();
    this.members.clear();
    this.vips.clear();
    this.shortcuts.clear();
  }

  service(key: string): VirtualService | undefined {
    const claims = this.services.get(key);
    if (!claims) return undefined;
    let first: ServicePortKey | undefined;
    for (const port of claims.keys()) if (first === undefined || port < first) first = port;
    return claims.get(first!);
  }

  hasMember(entry: string): boolean {
    return this.members.has(entry);
  }

  hasVip(vip: string): boolean {
    return this.vips.has(vip);
  }

  serviceKeys(): IterableIterator<string> {
    return this.services.keys();
  }

  allMembers(): IterableIterator<string> {
    return this.members.keys();
  }

  allVips(): IterableIterator<string> {
    return this.vips.keys();
  }

  /** The shortcut chain's rules of one family. */
  shortcutRules(family: IPFamily): string[] {
    const prefix = `${family} `;
    return [...this.shortcuts.keys()].filter((rule) => rule.startsWith(prefix)).map((rule) => rule.slice(prefix.length));
  }
}

function count(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

function deleteClaim(services: Map<string, Map<ServicePortKey, VirtualService>>, serviceKey: string, port: ServicePortKey): void {
  const claims = services.get(serviceKey);
  claims?.delete(port);
  if (claims?.size === 0) services.delete(serviceKey);
}
