import type { ServicePort, ServicePortKey, ServicePortState } from '../model/service-port.js';
import type { Endpoint } from '../model/service-port.js';
import type { Batch } from './executor.js';
import type { Feature } from './features.js';
import type { PacketTrace, TracePacket } from './trace.js';

/** Read-only view of the whole desired state, handed to every sync. */
export interface ProxyState {
  get(key: ServicePortKey): ServicePortState | undefined;
  values(): IterableIterator<ServicePortState>;
  readonly size: number;
  /**
   * The cluster's service CIDRs (ServiceCIDR objects and --service-cidr; canonical, both families,
   * none inside another). Like kube-proxy's nftables mode, traffic to an address in them that no
   * Service port has as a cluster IP is dropped; the other ports of a cluster IP are rejected.
   */
  readonly serviceCIDRs: readonly string[];
}

export interface SyncRequest {
  /** Rebuild everything the backend owns from `state` (first sync, periodic reconcile, after a failure). */
  readonly full: boolean;
  /** Service ports added, changed or deleted since the last successful sync (deleted: absent from `state`). */
  readonly changed: ReadonlySet<ServicePortKey>;
  readonly state: ProxyState;
}

/** One Service port's traffic as the kernel counted it (--service-counters): every frontend of the port, every family. */
export interface ServiceCounterReading {
  readonly servicePort: ServicePort;
  readonly packets: number;
  readonly bytes: number;
}

export interface BackendInfo {
  readonly name: string;
  readonly description: string;
  readonly features: ReadonlySet<Feature>;
  /** True when the dataplane relies on conntrack NAT: core then deletes stale UDP conntrack entries after syncs. */
  readonly usesConntrack: boolean;
  /** The `--backend-opt` keys this backend reads: the CLI refuses any other key before init. Undeclared: keys are not checked. */
  readonly optionKeys?: readonly string[];
}

/**
 * The plugin contract. A backend turns desired state into dataplane rules; it never watches the API,
 * selects endpoints or schedules syncs (core does). A plugin binds it to `TOKENS.Backend` in its
 * default-exported ContainerModule.
 */
export interface DataplaneBackend extends BackendInfo {
  /** Checks the kernel and tools and creates base objects; throws a clear error when something is missing. */
  init(): Promise<void>;
  /** Applies one change atomically where the dataplane allows; on error the previous rules must keep working. */
  sync(request: SyncRequest): Promise<void>;
  /** Open connections per endpoint (keyed by `endpointAddress`), read in one call, for draining. */
  activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>>;
  /** Removes everything this backend ever wrote, found by its ownership marks; touches nothing else. */
  cleanup(): Promise<void>;
  /**
   * Optional drift check, called by core every audit period between syncs: compares a bounded slice of
   * the kernel with what the last sync wrote (never a whole listing at scale) and returns what differs,
   * one line per difference, or [] when the slice matches. Core then logs the drift, counts it and
   * runs a full sync, which repairs it.
   */
  audit?(): Promise<readonly string[]>;
  /**
   * Optional, for `kplane plan --diff`: compares everything the backend owns in the kernel (not a
   * bounded slice) with what its last sync wrote — after the dry-run sync `plan` runs, what it would
   * write — and returns the drift, one line per difference, or [] when the kernel holds the plan.
   * Names the kernel gives freely (generations, tree chain numbers) are not differences.
   */
  diff?(): Promise<readonly string[]>;
  /**
   * Optional, with --service-counters: the packets and bytes sent to each programmed Service port,
   * from counters its rules keep (written only with the flag on). Core calls it when /metrics is
   * scraped, at most once every few seconds; one read of the kernel per call.
   */
  readServiceCounters?(): Promise<readonly ServiceCounterReading[]>;
  /**
   * Optional, for `kplane trace`: follows `packet` through the rules this backend wrote — the live
   * kernel's (read back with its client), or `planned`, the batches a dry-run sync recorded — and
   * returns every path it can take. A rule the tracer does not understand ends its path as
   * `not-understood`, never as a guess.
   */
  trace?(packet: TracePacket, planned?: readonly Batch[]): Promise<PacketTrace>;
}
