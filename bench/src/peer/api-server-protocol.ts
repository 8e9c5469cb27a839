/** What the bench asks of the fake API server process (api-server.ts) and what it answers. */
import type { WorkloadSpec } from '../workload.js';

export type ApiServerRequests = {
  /** The path of a kubeconfig for the server (plain http on the namespace's loopback). */
  kubeconfig: { request: Record<string, never>; response: { path: string } };
  /** Every object of the workload written into the store (watchers see them as they go): when the writes began and ended. */
  load: { request: { workload: WorkloadSpec }; response: { startNs: number; appliedNs: number } };
  /** The workload's change of one target written: when. */
  change: { request: { target: number }; response: { startNs: number } };
  /** How many requests of each verb and resource the server has answered. */
  requests: { request: Record<string, never>; response: { counts: Record<string, number> } };
};

export type ApiServerOp = { [Op in keyof ApiServerRequests]: { op: Op } & ApiServerRequests[Op]['request'] }[keyof ApiServerRequests];
