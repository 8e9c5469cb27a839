/**
 * The in-repo fake API server (packages/core/test/support/fake-api-server) as a child process of
 * the bench, started inside the sandbox's node namespace so that the peer reaches it on that
 * namespace's loopback. Driven over JSON lines: it holds the node's Node, loads the workload and
 * moves one service's endpoints at a time, reporting CLOCK_MONOTONIC times comparable with the
 * prober's.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { SANDBOX_NETWORK } from '@kplane/conformance/sandbox';
import type { SourceEvent } from '@kplane/core';
import { FakeApiServer } from '../../../packages/core/test/support/fake-api-server/index.js';
import { Workload, type WorkloadSpec } from '../workload.js';
import type { ApiServerOp } from './api-server-protocol.js';

const now = (): number => Number(process.hrtime.bigint());

const server = await FakeApiServer.start();
server.apply({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: SANDBOX_NETWORK.nodeName, labels: { 'kubernetes.io/hostname': SANDBOX_NETWORK.nodeName } },
  spec: { podCIDRs: [...SANDBOX_NETWORK.clusterCIDRs] },
  status: { addresses: SANDBOX_NETWORK.nodeIPs.map((address) => ({ type: 'InternalIP', address })) },
});
const kubeconfig = server.writeKubeconfig();
let workload: Workload | null = null;

/** The workload only upserts. */
function apply(event: SourceEvent): void {
  if (event.action !== 'upsert') throw new Error(`the workload deletes ${event.ref}`);
  server.apply(event.object as Record<string, unknown>);
}

function answer(op: ApiServerOp & { seq: number }): object {
  switch (op.op) {
    case 'kubeconfig':
      return { path: kubeconfig };
    case 'load': {
      workload = new Workload(op.workload as WorkloadSpec);
      const startNs = now();
      for (const event of workload.events()) apply(event);
      return { startNs, appliedNs: now() };
    }
    case 'change': {
      if (!workload) throw new Error('change before load');
      const startNs = now();
      apply(workload.changeEvent(op.target));
      return { startNs };
    }
    case 'requests': {
      const counts: Record<string, number> = {};
      for (const request of server.requests) counts[`${request.verb} ${request.resource}`] = (counts[`${request.verb} ${request.resource}`] ?? 0) + 1;
      return { counts };
    }
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const request = JSON.parse(line) as ApiServerOp & { seq: number };
  try {
    process.stdout.write(`${JSON.stringify({ seq: request.seq, ...answer(request) })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ seq: request.seq, error: error instanceof Error ? error.message : String(error) })}\n`);
  }
}).on('close', () => void server.stop().then(() => {
  rmSync(dirname(kubeconfig), { recursive: true, force: true });
  process.exit(0);
}));
process.stdout.write(`${JSON.stringify({ seq: 0, ready: true })}\n`);
