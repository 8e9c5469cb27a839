/**
 * The JSON-lines protocol between the bench and its agent process. Times are CLOCK_MONOTONIC
 * nanoseconds (`process.hrtime.bigint()` as a number: exact below 2^53, i.e. for 104 days of
 * uptime), the same clock in every process of the machine, so the bench can subtract an agent's
 * timestamp from a prober's.
 */
import type { WorkloadSpec } from '../workload.js';

export interface StartRequest {
  readonly backend: 'nft' | 'iptables' | 'ipvs';
  readonly options: Readonly<Record<string, string>>;
  /** Record batches instead of running them (control-plane measurement). */
  readonly dryRun: boolean;
  readonly nodeName: string;
  readonly nodeIPs: readonly string[];
  readonly clusterCIDRs: readonly string[];
}

/** The agent's own resources: its process, and the tools it ran (children it waited for). */
export interface Usage {
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly toolCpuMs: number;
}

export interface Memory {
  readonly rssBytes: number;
  readonly maxRssBytes: number;
  readonly heapUsedBytes: number;
}

/** Calls of one tool during a sync (batches applied and queries read) and the wall time spent in them. */
export interface ToolCalls {
  readonly calls: number;
  readonly ms: number;
}

export interface SyncTiming {
  /** When the change entered the engine (`engine.handle`). */
  readonly startNs: number;
  /** When the backend's sync returned (the kernel accepted every batch). */
  readonly syncedNs: number;
  readonly usage: Usage;
  readonly batches: number;
  readonly batchBytes: number;
  /** Per tool: where the sync's wall time went outside the agent's own code. */
  readonly tools: Readonly<Record<string, ToolCalls>>;
}

export interface LoadResult extends SyncTiming {
  /** Validation and tracking of all objects done (engine.handle returned). */
  readonly handledNs: number;
  readonly memory: Memory;
}

export interface PlanRun {
  /** Raw objects through validation and tracker (`engine.handle`). */
  readonly handleMs: number;
  /** Engine and the backend's planner, into the dry-run executor (`engine.sync`). */
  readonly syncMs: number;
  /** Live heap (after a full GC) held by the proxy for this state, batches excluded. */
  readonly heapBytes: number;
  readonly batchBytes: number;
}

export type AgentRequests = {
  start: { request: StartRequest; response: { memory: Memory } };
  load: { request: { workload: WorkloadSpec }; response: LoadResult };
  change: { request: { target: number }; response: SyncTiming };
  memory: { request: Record<string, never>; response: Memory };
  plan: { request: { start: StartRequest; workload: WorkloadSpec; repeats: number }; response: { runs: PlanRun[] } };
};

export type AgentOp = keyof AgentRequests;
