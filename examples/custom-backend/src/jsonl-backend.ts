import { FEATURES, endpointAddress, inject, injectable, type DataplaneBackend, type Endpoint, type SyncRequest } from '@kplane/core';
import type { JsonlClient } from './client/client.js';
import { OPTION_KEYS } from './options.js';
import { planLines } from './planner/plan.js';

/** The token of the backend's client: ExecJsonlClient for real, a FakeJsonlClient in tests. */
export const JSONL_CLIENT = Symbol.for('kplane.example.JsonlClient');

/**
 * Writes the desired state as JSON lines, so a dataplane of your own can follow it with `tail -F`.
 * Like every backend it only turns state into writes: core watches the API, selects endpoints,
 * schedules syncs and drains.
 */
@injectable()
export class JsonLinesBackend implements DataplaneBackend {
  readonly name = 'jsonl';
  readonly description = 'writes the desired state as JSON lines';
  // No SCTP: core leaves SCTP ports out for this backend, with a warning and a count, and programs the rest.
  readonly features = new Set(FEATURES.filter((feature) => feature !== 'SCTP'));
  readonly usesConntrack = false;
  readonly optionKeys = OPTION_KEYS;

  constructor(@inject(JSONL_CLIENT) private readonly client: JsonlClient) {}

  async init(): Promise<void> {}

  async sync(request: SyncRequest): Promise<void> {
    const { lines, append } = planLines(request);
    if (lines.length > 0) await this.client.write(lines, { append });
  }

  /** A file holds no connections: drains end at the next check. */
  async activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    return new Map(endpoints.map((endpoint) => [endpointAddress(endpoint), 0]));
  }

  /** Nothing in the kernel to remove; the file is the consumer's to keep or delete. */
  async cleanup(): Promise<void> {}
}
