import { inject, injectable } from 'inversify';
import type { ProxyConfig } from '../config/proxy-config.js';
import { TOKENS } from '../di/tokens.js';
import { endpointAddress, type Endpoint, type ServicePortKey } from '../model/service-port.js';
import type { SelectedServicePort } from '../tracker/service-port-builder.js';
import type { Clock } from './clock.js';

interface Drain {
  readonly endpoint: Endpoint;
  readonly deadline: number;
}

/**
 * Tracks endpoints that left the selection of a service port that still has others: they take no
 * new connections but keep their established ones, until the backend reports none left or the
 * grace period ends.
 */
@injectable()
export class DrainScheduler {
  private readonly drains = new Map<ServicePortKey, Map<string, Drain>>();
  private readonly graceMs: number;

  constructor(@inject(TOKENS.Clock) private readonly clock: Clock, @inject(TOKENS.Config) config: Pick<ProxyConfig, 'drainGraceMs'>) {
    this.graceMs = config.drainGraceMs;
  }

  /**
   * Starts drains for endpoints that left the selection; stops those that came back. A UDP endpoint
   * that left its EndpointSlices is gone, not draining: its flows go nowhere, so they are cut at once
   * (their conntrack entries deleted) rather than kept for the grace period (kubernetes#19029).
   */
  update(key: ServicePortKey, previous: SelectedServicePort | undefined, current: SelectedServicePort | undefined): void {
    if (!current || (!previous && !this.drains.has(key))) {
      this.drains.delete(key);
      return;
    }
    const selected = new Set(selectedEndpoints(current).map(endpointAddress));
    const listed = current.servicePort.protocol === 'UDP' ? new Set(current.endpoints.map(endpointAddress)) : null;
    const drainable = (address: string): boolean => !selected.has(address) && (listed === null || listed.has(address));
    const drains = this.drains.get(key) ?? new Map<string, Drain>();
    for (const address of drains.keys()) if (!drainable(address)) drains.delete(address);
    if (previous && selected.size > 0 && this.graceMs > 0) {
      for (const endpoint of selectedEndpoints(previous)) {
        const address = endpointAddress(endpoint);
        if (drainable(address) && !drains.has(address)) drains.set(address, { endpoint, deadline: this.clock.now() + this.graceMs });
      }
    }
    if (drains.size > 0) this.drains.set(key, drains);
    else this.drains.delete(key);
  }

  draining(key: ServicePortKey): readonly Endpoint[] {
    const drains = this.drains.get(key);
    return drains ? [...drains.values()].map((drain) => drain.endpoint) : NONE;
  }

  get count(): number {
    let total = 0;
    for (const drains of this.drains.values()) total += drains.size;
    return total;
  }

  /**
   * Ends the drains that are over: no active connections, or past the deadline. Connection counts
   * are read once for all draining endpoints. Returns the service ports whose drain set changed.
   */
  async finish(activeConnections: (endpoints: readonly Endpoint[]) => Promise<ReadonlyMap<string, number>>): Promise<Set<ServicePortKey>> {
    const changed = new Set<ServicePortKey>();
    if (this.drains.size === 0) return changed;
    const unique = new Map<string, Endpoint>();
    for (const drains of this.drains.values()) for (const [address, drain] of drains) unique.set(address, drain.endpoint);
    const counts = await activeConnections([...unique.values()]);
    const now = this.clock.now();
    for (const [key, drains] of this.drains) {
      for (const [address, drain] of drains) {
        if ((counts.get(address) ?? 0) === 0 || now >= drain.deadline) {
          drains.delete(address);
          changed.add(key);
        }
      }
      if (drains.size === 0) this.drains.delete(key);
    }
    return changed;
  }
}

const NONE: readonly Endpoint[] = Object.freeze([]);

function selectedEndpoints(port: SelectedServicePort): Endpoint[] {
  return [...port.internalEndpoints, ...port.externalEndpoints];
}
