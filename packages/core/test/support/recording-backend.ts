import type { DataplaneBackend, Endpoint, Feature, SyncRequest } from '../../src/index.js';
import { FEATURES, endpointAddress } from '../../src/index.js';

/** A backend that records every sync (with a snapshot of the state it saw) and fails on demand. */
export class RecordingBackend implements DataplaneBackend {
  readonly name = 'recording';
  readonly description = 'records syncs for tests';
  readonly syncs: { full: boolean; changed: string[]; endpoints: Record<string, string[]>; draining: Record<string, string[]>; serviceCIDRs: readonly string[] }[] = [];
  failNext = 0;
  connections = new Map<string, number>();

  constructor(readonly usesConntrack = false, readonly features: ReadonlySet<Feature> = new Set(FEATURES)) {}

  async init(): Promise<void> {}

  async sync(request: SyncRequest): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('injected failure');
    }
    const endpoints: Record<string, string[]> = {};
    const draining: Record<string, string[]> = {};
    for (const state of request.state.values()) {
      endpoints[state.servicePort.key] = state.internalEndpoints.map(endpointAddress);
      if (state.draining.length > 0) draining[state.servicePort.key] = state.draining.map(endpointAddress);
    }
    this.syncs.push({ full: request.full, changed: [...request.changed].sort(), endpoints, draining, serviceCIDRs: request.state.serviceCIDRs });
  }

  async activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    return new Map(endpoints.map((endpoint) => [endpointAddress(endpoint), this.connections.get(endpointAddress(endpoint)) ?? 0]));
  }

  async cleanup(): Promise<void> {}
}
