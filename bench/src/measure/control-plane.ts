import type { BenchBackend } from '../backends.js';
import { startAgent, startRequest } from '../process/agent-process.js';
import type { Resources } from '../process/resources.js';
import type { ControlPlaneRun } from '../report/results.js';

/**
 * Core's diff and plan throughput: full syncs from raw objects through validation, the tracker, the
 * engine and the backend's planner into a dry-run executor, in a fresh agent process per (backend, N)
 * with a fresh proxy per repeat; and the live heap each state holds (memory per service).
 */
export async function measureControlPlane(
  backend: BenchBackend, services: number, repeats: number, seed: number, resources: Resources, agentBundle: string,
): Promise<ControlPlaneRun> {
  const agent = await startAgent(resources, agentBundle, { exposeGc: true });
  try {
    const { runs } = await agent.request('plan', {
      start: startRequest(backend, true),
      workload: { services, seed, changes: 0, fileEdits: 0 },
      repeats,
    });
    return { backend: backend.id, label: backend.label, services, runs };
  } finally {
    await agent.stop();
  }
}
