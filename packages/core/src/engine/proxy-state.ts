import { inject, injectable } from 'inversify';
import type { ProxyState } from '../backend/contract.js';
import { TOKENS } from '../di/tokens.js';
import type { ServicePortKey, ServicePortState } from '../model/service-port.js';
import type { ChangeTracker } from '../tracker/change-tracker.js';
import type { SelectedServicePort } from '../tracker/service-port-builder.js';
import type { DrainScheduler } from './drain-scheduler.js';

/** The desired state handed to backends: the tracker's selection with the drain scheduler's drains. */
@injectable()
export class DesiredState implements ProxyState {
  constructor(
    @inject(TOKENS.Tracker) private readonly tracker: Pick<ChangeTracker, 'state' | 'serviceCIDRs'>,
    @inject(TOKENS.DrainScheduler) private readonly drains: Pick<DrainScheduler, 'draining'>,
  ) {}

  get size(): number {
    return this.tracker.state.size;
  }

  get serviceCIDRs(): readonly string[] {
    return this.tracker.serviceCIDRs;
  }

  get(key: ServicePortKey): ServicePortState | undefined {
    const port = this.tracker.state.get(key);
    return port && this.withDrains(port);
  }

  *values(): IterableIterator<ServicePortState> {
    for (const port of this.tracker.state.values()) yield this.withDrains(port);
  }

  private withDrains(port: SelectedServicePort): ServicePortState {
    const draining = this.drains.draining(port.servicePort.key);
    return draining.length === 0 ? port : { ...port, draining };
  }
}
