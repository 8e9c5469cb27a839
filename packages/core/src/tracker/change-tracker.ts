import { isDeepStrictEqual } from 'node:util';
import type { IPFamily, ServiceName, ServicePortKey } from '../model/service-port.js';
import type { ValidServiceCIDR } from '../validation/service-cidr.js';
import type { ValidEndpointSlice, ValidNode, ValidService } from '../validation/validate.js';
import type { NodeLocation } from './endpoint-selection.js';
import { FrontendClaims, type FrontendConflict } from './frontend-claims.js';
import { ServiceCIDRs } from './service-cidrs.js';
import { buildServicePorts, type SelectedServicePort } from './service-port-builder.js';

/** What changed for one service port between two syncs; `undefined` means absent. */
export interface PortChange {
  readonly previous: SelectedServicePort | undefined;
  readonly current: SelectedServicePort | undefined;
}

/** The result of `take()`: every service port whose selected state differs from the last sync. */
export interface TrackedChanges {
  readonly ports: ReadonlyMap<ServicePortKey, PortChange>;
  /** EndpointSlice trigger times (ms) of the changes included, with the slice's family, for the network programming metric. */
  readonly triggerTimes: readonly TriggerTime[];
  /** Frontends a port lost to an older Service since the last `take()` (to warn about, once). */
  readonly conflicts: readonly FrontendConflict[];
}

/** An EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time` (epoch ms) and its address family. */
export interface TriggerTime {
  readonly at: number;
  readonly family: IPFamily;
}

interface PendingService {
  serviceChanged: boolean;
  endpointsChanged: boolean;
  triggerTimes: TriggerTime[];
}

/**
 * kube-proxy's change trackers in one: holds the last valid Service and EndpointSlices of every
 * Service, remembers which Services changed since the last sync, and turns them into port changes
 * on `take()`. Work per event and per take is proportional to the Services that changed; many
 * events on one Service cost one rebuild, and a Service that returns to its old state is no change.
 */
export class ChangeTracker {
  private readonly services = new Map<ServiceName, ValidService>();
  private readonly slices = new Map<string, ValidEndpointSlice>();
  /** A Service's slices: a plain list, since a Service has few (one, nearly always). */
  private readonly slicesByService = new Map<ServiceName, readonly ValidEndpointSlice[]>();
  private readonly pending = new Map<ServiceName, PendingService>();
  /** Ports handed to a sync that failed: their `previous` is what the kernel may still hold. */
  private readonly requeued = new Map<ServicePortKey, SelectedServicePort | undefined>();
  private readonly synced = new Map<ServicePortKey, SelectedServicePort>();
  private readonly portsByService = new Map<ServiceName, readonly ServicePortKey[]>();
  private readonly claims = new FrontendClaims();
  private node: NodeLocation;
  private readonly ranges: ServiceCIDRs;
  private syncedRanges: readonly string[];

  /** `serviceCIDRs`: the ranges configured by flag, merged with those of ServiceCIDR objects. */
  constructor(node: NodeLocation, serviceCIDRs: readonly string[] = []) {
    this.node = node;
    this.ranges = new ServiceCIDRs(serviceCIDRs);
    this.syncedRanges = this.ranges.current;
  }

  upsertService(service: ValidService): void {
    this.services.set(service.name, service);
    this.markPending(service.name).serviceChanged = true;
  }

  deleteService(name: ServiceName): void {
    if (!this.services.delete(name)) return;
    this.markPending(name).serviceChanged = true;
  }

  upsertEndpointSlice(slice: ValidEndpointSlice): void {
    const previous = this.slices.get(slice.key);
    if (previous && previous.service !== slice.service) this.deleteEndpointSlice(slice.key);
    this.slices.set(slice.key, slice);
    const others = this.slicesByService.get(slice.service);
    this.slicesByService.set(slice.service, others ? [...others.filter((other) => other.key !== slice.key), slice] : [slice]);
    const pending = this.markPending(slice.service);
    pending.endpointsChanged = true;
    if (slice.triggerTime !== null && slice.family !== null) pending.triggerTimes.push({ at: slice.triggerTime, family: slice.family });
  }

  deleteEndpointSlice(key: string): void {
    const slice = this.slices.get(key);
    if (!slice) return;
    this.slices.delete(key);
    const remaining = (this.slicesByService.get(slice.service) ?? []).filter((other) => other.key !== key);
    if (remaining.length > 0) this.slicesByService.set(slice.service, remaining);
    else this.slicesByService.delete(slice.service);
    this.markPending(slice.service).endpointsChanged = true;
  }

  /** This node's zone decides topology for every Service: a change re-evaluates them all. */
  updateNode(node: ValidNode): void {
    if (node.name !== this.node.name || node.zone === this.node.zone) return;
    this.node = { name: this.node.name, zone: node.zone };
    for (const name of this.services.keys()) this.markPending(name).endpointsChanged = true;
  }

  upsertServiceCIDR(object: ValidServiceCIDR): void {
    this.ranges.upsert(object);
  }

  deleteServiceCIDR(name: string): void {
    this.ranges.delete(name);
  }

  get pendingServiceChanges(): number {
    return count(this.pending.values(), (pending) => pending.serviceChanged);
  }

  get pendingEndpointChanges(): number {
    return count(this.pending.values(), (pending) => pending.endpointsChanged);
  }

  get hasPending(): boolean {
    return this.pending.size > 0 || this.requeued.size > 0 || !isDeepStrictEqual(this.ranges.current, this.syncedRanges);
  }

  /** The selected state of every port as of the last `take()`. */
  get state(): ReadonlyMap<ServicePortKey, SelectedServicePort> {
    return this.synced;
  }

  /** Frontends held by another Service as of the last `take()`, summed over the losing ports. */
  get frontendConflicts(): number {
    return this.claims.conflicts;
  }

  /** The service CIDRs as of the last `take()`. */
  get serviceCIDRs(): readonly string[] {
    return this.syncedRanges;
  }

  /** Rebuilds the pending Services and returns the ports that really changed. */
  take(): TrackedChanges {
    this.syncedRanges = this.ranges.current;
    const ports = new Map<ServicePortKey, PortChange>();
    const triggerTimes: TriggerTime[] = [];
    const conflicts: FrontendConflict[] = [];
    for (const [key, previous] of this.requeued) ports.set(key, { previous, current: this.synced.get(key) });
    this.requeued.clear();
    // Claims first, for every changed Service: then who holds a shared frontend is known, and the
    // other claimants of a frontend whose holder may have changed are rebuilt too.
    const rebuild = new Set(this.pending.keys());
    for (const [name, pending] of this.pending) {
      if (pending.serviceChanged) for (const other of this.claims.update(name, this.services.get(name))) rebuild.add(other);
    }
    for (const name of rebuild) {
      triggerTimes.push(...(this.pending.get(name)?.triggerTimes ?? []));
      const service = this.services.get(name);
      const resolved = service && this.claims.resolve(service);
      if (resolved) conflicts.push(...resolved.fresh);
      const built = resolved ? buildServicePorts(resolved.ports, this.slicesByService.get(name) ?? [], this.node) : [];
      // A Service has few ports: plain lists beat sets here.
      const builtKeys = built.map((port) => port.servicePort.key);
      for (const key of this.portsByService.get(name) ?? []) {
        if (!builtKeys.includes(key)) this.record(ports, key, undefined);
      }
      for (const port of built) this.record(ports, port.servicePort.key, port);
      if (built.length > 0) this.portsByService.set(name, builtKeys);
      else this.portsByService.delete(name);
    }
    this.pending.clear();
    for (const [key, change] of ports) {
      if (isDeepStrictEqual(change.previous, change.current)) ports.delete(key);
    }
    return { ports, triggerTimes, conflicts };
  }

  /** Puts back the changes of a failed sync, so that the next `take()` hands them out again. */
  requeue(changes: TrackedChanges): void {
    for (const [key, change] of changes.ports) {
      if (!this.requeued.has(key)) this.requeued.set(key, change.previous);
    }
  }

  private record(ports: Map<ServicePortKey, PortChange>, key: ServicePortKey, current: SelectedServicePort | undefined): void {
    const previous = ports.has(key) ? ports.get(key)!.previous : this.synced.get(key);
    ports.set(key, { previous, current });
    if (current) this.synced.set(key, current);
    else this.synced.delete(key);
  }

  private markPending(name: ServiceName): PendingService {
    let pending = this.pending.get(name);
    if (!pending) this.pending.set(name, (pending = { serviceChanged: false, endpointsChanged: false, triggerTimes: [] }));
    return pending;
  }
}

function count<T>(items: Iterable<T>, predicate: (item: T) => boolean): number {
  let total = 0;
  for (const item of items) if (predicate(item)) total++;
  return total;
}
