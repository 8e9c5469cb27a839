import type { ServiceName, ServicePort, ServicePortKey } from '../model/service-port.js';
import type { ValidService } from '../validation/validate.js';

/** A frontend two Services claim, and who holds it: the loser's port is programmed without it. */
export interface FrontendConflict {
  /** `ip port/protocol`, or `:nodePort/protocol` for a node port (it opens on every node address). */
  readonly frontend: string;
  readonly winner: ServiceName;
  readonly loser: ServicePortKey;
}

/**
 * Who holds each frontend when several Services claim it (a shared external or load-balancer IP
 * on one port, say): the oldest Service by creationTimestamp, then the first by namespace/name;
 * never the first to arrive, so a partial sync and a full one agree. The loser loses only that
 * frontend: its other frontends and ports stay.
 */
export class FrontendClaims {
  /** The Services claiming each frontend: one (nearly always), or several. */
  private readonly claimants = new Map<string, ServiceName | readonly ServiceName[]>();
  /** Each Service's rank and frontends as last recorded. */
  private readonly claimed = new Map<ServiceName, Claim>();
  /** The conflicts each Service loses, as of its last `resolve()`. */
  private readonly lost = new Map<ServiceName, readonly FrontendConflict[]>();
  private lostCount = 0;
  /** Frontends with more than one claimant: while there are none, `resolve()` has nothing to do. */
  private shared = 0;

  /** Frontends held by another Service right now, summed over the losing ports. */
  get conflicts(): number {
    return this.lostCount;
  }

  /**
   * Records the frontends `service` claims now (undefined: it was deleted). Returns the other
   * Services for which a frontend changed hands (its old holder and its claimants), to be rebuilt.
   * A claimant that comes or goes without changing the holder affects nobody else.
   */
  update(name: ServiceName, service: ValidService | undefined): ServiceName[] {
    const previous = this.claimed.get(name);
    const frontends = service ? serviceFrontends(service) : [];
    // Only a frontend someone else claims can change hands: note its holder before.
    const holdersBefore = new Map<string, ServiceName>();
    for (const frontend of [...(previous?.frontends ?? []), ...frontends]) {
      const claimants = this.claimants.get(frontend);
      if (claimants !== undefined && claimants !== name && !holdersBefore.has(frontend)) holdersBefore.set(frontend, this.holder(frontend));
    }
    for (const frontend of previous?.frontends ?? []) this.release(frontend, name);
    if (service) this.claimed.set(name, { createdAt: service.createdAt, frontends });
    else {
      this.claimed.delete(name);
      this.setLost(name, []);
    }
    for (const frontend of frontends) this.claim(frontend, name);
    const affected = new Set<ServiceName>();
    for (const [frontend, before] of holdersBefore) {
      if (this.holder(frontend) === before) continue;
      affected.add(before);
      for (const claimant of owners(this.claimants.get(frontend))) affected.add(claimant);
    }
    affected.delete(name);
    return [...affected];
  }

  /**
   * The ports of `service` (recorded by `update()`) without the frontends another Service holds,
   * and the conflicts it did not lose at its previous resolve. A port left without any cluster IP
   * goes, as in fitToFeatures: backends program a port only on its cluster IPs.
   */
  resolve(service: ValidService): { ports: readonly ServicePort[]; fresh: FrontendConflict[] } {
    if (this.shared === 0) {
      this.setLost(service.name, []);
      return { ports: service.ports, fresh: [] };
    }
    const conflicts: FrontendConflict[] = [];
    const ports: ServicePort[] = [];
    for (const port of service.ports) {
      const lost = new Set<string>();
      for (const frontend of portFrontends(port)) {
        const winner = this.holder(frontend);
        if (winner !== service.name && !lost.has(frontend)) {
          lost.add(frontend);
          conflicts.push({ frontend, winner, loser: port.key });
        }
      }
      if (lost.size === 0) ports.push(port);
      else {
        const keep = (ip: string) => !lost.has(addressFrontend(ip, port));
        const clusterIPs = port.clusterIPs.filter(keep);
        if (clusterIPs.length > 0) {
          const nodePort = port.nodePort !== null && lost.has(nodePortFrontend(port)) ? null : port.nodePort;
          ports.push({ ...port, clusterIPs, externalIPs: port.externalIPs.filter(keep), loadBalancerIPs: port.loadBalancerIPs.filter(keep), nodePort });
        }
      }
    }
    const before = this.lost.get(service.name) ?? [];
    const fresh = conflicts.filter((conflict) => !before.some((old) => sameConflict(old, conflict)));
    this.setLost(service.name, conflicts);
    return { ports: conflicts.length === 0 ? service.ports : ports, fresh };
  }

  /** The Service that holds `frontend`: the oldest claimant, then the first by name. */
  private holder(frontend: string): ServiceName {
    const claimants = this.claimants.get(frontend)!;
    if (typeof claimants === 'string') return claimants;
    return claimants.reduce((best, other) => (this.ranksBefore(other, best) ? other : best));
  }

  private ranksBefore(a: ServiceName, b: ServiceName): boolean {
    const createdA = this.claimed.get(a)!.createdAt ?? Infinity;
    const createdB = this.claimed.get(b)!.createdAt ?? Infinity;
    return createdA !== createdB ? createdA < createdB : a < b;
  }

  private claim(frontend: string, name: ServiceName): void {
    const known = this.claimants.get(frontend);
    if (known === undefined) this.claimants.set(frontend, name);
    else if (known !== name && !(typeof known !== 'string' && known.includes(name))) {
      if (typeof known === 'string') this.shared++;
      this.claimants.set(frontend, [...owners(known), name]);
    }
  }

  private release(frontend: string, name: ServiceName): void {
    const known = this.claimants.get(frontend);
    if (known === undefined || typeof known === 'string') {
      if (known === name) this.claimants.delete(frontend);
      return;
    }
    if (!known.includes(name)) return;
    const others = known.filter((owner) => owner !== name);
    if (others.length === 1) this.shared--;
    this.claimants.set(frontend, others.length === 1 ? others[0]! : others);
  }

  private setLost(name: ServiceName, conflicts: readonly FrontendConflict[]): void {
    this.lostCount += conflicts.length - (this.lost.get(name)?.length ?? 0);
    if (conflicts.length > 0) this.lost.set(name, conflicts);
    else this.lost.delete(name);
  }
}

interface Claim {
  /** creationTimestamp in ms; a Service without one ranks after every dated one. */
  readonly createdAt: number | null;
  readonly frontends: readonly string[];
}

function owners(claimants: ServiceName | readonly ServiceName[] | undefined): readonly ServiceName[] {
  return claimants === undefined ? [] : typeof claimants === 'string' ? [claimants] : claimants;
}

function serviceFrontends(service: ValidService): string[] {
  return service.ports.flatMap(portFrontends);
}

function portFrontends(port: ServicePort): string[] {
  const frontends = [...port.clusterIPs, ...port.externalIPs, ...port.loadBalancerIPs].map((ip) => addressFrontend(ip, port));
  if (port.nodePort !== null) frontends.push(nodePortFrontend(port));
  return frontends;
}

function addressFrontend(ip: string, port: ServicePort): string {
  return `${ip} ${port.port}/${port.protocol}`;
}

function nodePortFrontend(port: ServicePort): string {
  return `:${port.nodePort}/${port.protocol}`;
}

function sameConflict(a: FrontendConflict, b: FrontendConflict): boolean {
  return a.frontend === b.frontend && a.winner === b.winner && a.loser === b.loser;
}

/** The warning for a conflict: both Services and the frontend, as an operator searches for them. */
export function conflictMessage(conflict: FrontendConflict): string {
  return `frontend ${conflict.frontend} is claimed by ${conflict.winner} and ${conflict.loser}: it is programmed for the older one, ${conflict.winner}, only`;
}
