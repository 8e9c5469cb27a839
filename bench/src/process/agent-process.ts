import { SANDBOX_NETWORK } from '@kplane/conformance/sandbox';
import type { AgentRequests, StartRequest } from '../agent/protocol.js';
import type { BenchBackend } from '../backends.js';
import { JsonLinesProcess } from './json-lines.js';
import type { Resources } from './resources.js';

export type AgentProcess = JsonLinesProcess<AgentRequests>;

/**
 * Starts the bundled agent: inside `namespace` (where its tools then program the node, with nothing
 * between the agent and its tools), or here for dry runs; `--expose-gc` lets it collect garbage
 * before memory readings that are outside every timed window.
 */
export function startAgent(resources: Resources, bundle: string, options: { namespace?: string; exposeGc?: boolean } = {}): Promise<AgentProcess> {
  const node = [process.execPath, ...(options.exposeGc ? ['--expose-gc'] : []), bundle];
  const [command, ...args] = options.namespace ? ['ip', 'netns', 'exec', options.namespace, ...node] : node;
  return JsonLinesProcess.start<AgentRequests>('agent', command!, args, resources);
}

/** How the agent sets up its proxy: the backend, and the sandbox's node (its name, addresses and pod CIDRs). */
export function startRequest(backend: BenchBackend, dryRun: boolean): StartRequest {
  return {
    backend: backend.backend,
    options: backend.options,
    dryRun,
    nodeName: SANDBOX_NETWORK.nodeName,
    nodeIPs: SANDBOX_NETWORK.nodeIPs,
    clusterCIDRs: SANDBOX_NETWORK.clusterCIDRs,
  };
}
