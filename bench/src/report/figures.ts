import type { BackendRun, ControlPlaneRun, SyncSample } from './results.js';
import { median, percentile } from './stats.js';

/** The figures the report shows for one run, derived from its raw samples (NaN where not measured). */
export interface RunFigures {
  readonly fullSyncLiveS: number;
  readonly fullSyncAcceptedS: number;
  /** Of the accepted time, the wall time spent in tool calls. */
  readonly fullSyncToolS: number;
  readonly agentCpuS: number;
  readonly toolCpuS: number;
  readonly idleRssMB: number;
  readonly rssMB: number;
  readonly maxRssMB: number;
  readonly changes: number;
  readonly changeP50Ms: number;
  readonly changeP99Ms: number;
  readonly changeAcceptedP50Ms: number;
  readonly changeToolP50Ms: number;
  readonly fileEditMs: number;
  readonly connectFirstUs: number;
  readonly connectFirstP99Us: number;
  readonly connectLastUs: number;
  readonly connectLastP99Us: number;
  readonly connectRatio: number;
  readonly bandwidthFirstGbps: number;
  readonly bandwidthLastGbps: number;
  readonly bandwidthRatio: number;
}

const MB = 1e6;

/** Wall time a sync spent in tool calls. */
export function toolMs(sample: SyncSample): number {
  return Object.values(sample.tools).reduce((sum, tool) => sum + tool.ms, 0);
}

export function runFigures(run: BackendRun): RunFigures {
  const changes = run.changes ?? [];
  const live = changes.map((change) => change.liveMs);
  const first = run.connect?.first ?? [];
  const last = run.connect?.last ?? [];
  return {
    fullSyncLiveS: (run.fullSync?.liveMs ?? Number.NaN) / 1000,
    fullSyncAcceptedS: (run.fullSync?.acceptedMs ?? Number.NaN) / 1000,
    fullSyncToolS: (run.fullSync ? toolMs(run.fullSync) : Number.NaN) / 1000,
    agentCpuS: (run.fullSync?.agentCpuMs ?? Number.NaN) / 1000,
    toolCpuS: (run.fullSync?.toolCpuMs ?? Number.NaN) / 1000,
    idleRssMB: (run.memory?.idleRssBytes ?? Number.NaN) / MB,
    rssMB: (run.memory?.afterChangesRssBytes ?? Number.NaN) / MB,
    maxRssMB: (run.memory?.maxRssBytes ?? Number.NaN) / MB,
    changes: changes.length,
    changeP50Ms: median(live),
    changeP99Ms: percentile(live, 0.99),
    changeAcceptedP50Ms: median(changes.map((change) => change.acceptedMs)),
    changeToolP50Ms: median(changes.map(toolMs)),
    fileEditMs: median(run.fileSource?.editLiveMs ?? []),
    connectFirstUs: median(first) * 1000,
    connectFirstP99Us: percentile(first, 0.99) * 1000,
    connectLastUs: median(last) * 1000,
    connectLastP99Us: percentile(last, 0.99) * 1000,
    connectRatio: median(last) / median(first),
    bandwidthFirstGbps: median(run.bandwidth?.first ?? []) / 1e9,
    bandwidthLastGbps: median(run.bandwidth?.last ?? []) / 1e9,
    bandwidthRatio: median(run.bandwidth?.last ?? []) / median(run.bandwidth?.first ?? []),
  };
}

export interface PlanFigures {
  readonly coldServicesPerS: number;
  /** Best of the warm runs (a process that has planned before: JIT-compiled, as a long-running agent is). */
  readonly warmServicesPerS: number;
  readonly handleMs: number;
  readonly planMs: number;
  readonly heapKBPerService: number;
}

export function planFigures(run: ControlPlaneRun): PlanFigures {
  const rate = (index: number): number => run.services / ((run.runs[index]!.handleMs + run.runs[index]!.syncMs) / 1000);
  const warm = run.runs.slice(1);
  const best = warm.length > 0 ? warm.reduce((a, b) => (a.handleMs + a.syncMs <= b.handleMs + b.syncMs ? a : b)) : run.runs[0]!;
  return {
    coldServicesPerS: rate(0),
    warmServicesPerS: run.services / ((best.handleMs + best.syncMs) / 1000),
    handleMs: best.handleMs,
    planMs: best.syncMs,
    heapKBPerService: median(run.runs.map((entry) => entry.heapBytes)) / 1000 / run.services,
  };
}
