/** What a bench run records: raw samples, so any figure of the report can be recomputed from the JSON. */
import type { PlanRun, ToolCalls } from '../agent/protocol.js';
import type { Machine } from '../measure/machine.js';

export interface SyncSample {
  /** From the change entering the engine to the backend's sync returning (the kernel accepted the batches). */
  readonly acceptedMs: number;
  /** From the change entering the engine to the start of the first probe connection that reached the new endpoints. */
  readonly liveMs: number;
  /** Start of the probe before that one: the rule went live between the two. */
  readonly previousProbeMs: number | null;
  readonly probes: number;
  /** CPU of the agent process (user + system) and of the tools it ran, during the sync. */
  readonly agentCpuMs: number;
  readonly toolCpuMs: number;
  readonly batches: number;
  readonly batchBytes: number;
  /** Wall time in tool calls (batches and queries), per tool. */
  readonly tools: Readonly<Record<string, ToolCalls>>;
}

export interface FullSyncSample extends SyncSample {
  /** Validation and tracking of every object (`engine.handle`). */
  readonly handleMs: number;
}

export interface ChangeSample extends SyncSample {
  /** Index of the service whose endpoints moved. */
  readonly service: number;
}

export interface AgentMemory {
  /** After start-up (modules loaded, backend initialised), before any service. */
  readonly idleRssBytes: number;
  readonly afterFullSyncRssBytes: number;
  /** After the single changes and a full GC: the steady state. */
  readonly afterChangesRssBytes: number;
  readonly maxRssBytes: number;
}

export interface FileSourceRun {
  /** `kplane run --source file:` on a node without rules, from the process start to a probe reaching the last service. */
  readonly liveMs: number;
  /** From the process start to /healthz answering 200 (its first full sync done). */
  readonly startupMs: number;
  /** Per edit: from the rename of the file to the first probe that reached the new endpoints. */
  readonly editLiveMs: readonly number[];
}

export interface BackendRun {
  readonly backend: string;
  readonly label: string;
  readonly services: number;
  /** Measured inside the IPVS VM (qemu, TCG): not comparable with native figures. */
  readonly vm: boolean;
  readonly error?: string;
  readonly fullSync?: FullSyncSample;
  readonly memory?: AgentMemory;
  readonly changes?: readonly ChangeSample[];
  /** TCP handshake times (ms) from the client pod to the first and the last service. */
  readonly connect?: { readonly first: readonly number[]; readonly last: readonly number[] };
  /** iperf3 from the client pod to the first and the last service, bits per second, one sample per round (alternating). */
  readonly bandwidth?: { readonly first: readonly number[]; readonly last: readonly number[] };
  readonly fileSource?: FileSourceRun;
  readonly seconds: number;
}

/** The workload's manifests as one YAML file, read in fresh processes (one sample per repeat). */
export interface FileLoadRun {
  readonly services: number;
  readonly bytes: number;
  /** Core's manifest reader alone, on the whole text. */
  readonly parseMs: readonly number[];
  /** `kplane plan --source file:` with nft, from the process start to its exit. */
  readonly planMs: readonly number[];
}

export interface ControlPlaneRun {
  readonly backend: string;
  readonly label: string;
  readonly services: number;
  /** The first run is cold (JIT warm-up included); the others reuse the process with a fresh proxy. */
  readonly runs: readonly PlanRun[];
}

export interface IpsetBaseline {
  readonly services: number;
  /** `ipset add` exec'd once per entry (kube-router before its fix), over a sample of entries. */
  readonly perEntry: { readonly entries: number; readonly ms: number };
  /** One `ipset restore` with every entry. */
  readonly restore: { readonly entries: number; readonly ms: number };
}

export interface RestoreBaseline {
  readonly mode: 'nft' | 'legacy';
  /** `--noflush` (kube-proxy's way: only the chains named are replaced), or the whole table replaced. */
  readonly noflush: boolean;
  readonly services: number;
  readonly bytes: number;
  /** `iptables-restore --noflush` of the flat layout into an empty namespace; null: not done within `capMs` (stopped). */
  readonly loadMs: number | null;
  /** The same restore again over the loaded rules: every chain flushed and refilled, as kube-proxy did on every change. */
  readonly rewriteMs: number | null;
  readonly capMs: number;
}

export interface VmPart {
  /** False when the VM harness is not in the tree (or the run did not ask for ipvs); true once the VM was started. */
  readonly available: boolean;
  /** Why the VM part did not run, or what went wrong in it. */
  readonly reason?: string;
  readonly kernel?: string;
  readonly runs: readonly BackendRun[];
}

export interface BenchResults {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly seconds: number;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly machine: Machine;
  readonly runs: readonly BackendRun[];
  readonly vm: VmPart;
  readonly controlPlane: readonly ControlPlaneRun[];
  readonly fileLoad: readonly FileLoadRun[];
  readonly baselines: { readonly ipset: readonly IpsetBaseline[]; readonly iptablesRestore: readonly RestoreBaseline[] };
  /** Control-plane and baseline steps that failed (runs carry their own `error`). */
  readonly failures: readonly string[];
}
