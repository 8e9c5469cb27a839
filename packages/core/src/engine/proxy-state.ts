import type { ProxyState } from '../backend/contract.js';
import type { ServicePortKey, ServicePortState } from '../model/service-port.js';
import type { SelectedServicePort } from '../tracker/service-port-builder.js';
import type { DrainScheduler } from './drain-scheduler.js';

/** The desired state handed to backends: the tracker's selection with the drain scheduler's drains. */
export class DesiredState implements ProxyState {
  constructor(
    private readonly selected: ReadonlyMap<ServicePortKey, SelectedServicePort>,
    private readonly drains: DrainScheduler,
    private readonly ranges: () => readonly string[],
  ) {}

  get size(): number {
    return this.selected.size;
  }

  get serviceCIDRs(): readonly string[] {
    return this.ranges();
  }

  get(key: ServicePortKey): ServicePortState | undefined {
    const port = this.selected.get(key);
    return port && this.withDrains(port);
  }

  *values(): IterableIterator<ServicePortState> {
    for (const port of this.selected.values()) yield this.withDrains(port);
  }

  private withDrains(port: SelectedServicePort): ServicePortState {
    const draining = this.drains.draining(port.servicePort.key);
    return draining.length === 0 ? port : { ...port, draining };
  }
}
