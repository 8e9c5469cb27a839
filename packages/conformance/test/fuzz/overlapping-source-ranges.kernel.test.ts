import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nft from '@kplane/backend-nft';
import { testProxy } from '@kplane/core/testing';
import type { SourceEvent } from '@kplane/core';
import { NetnsExecutor } from '../../src/index.js';
import { NODE_CONFIG } from './fake-backends.js';

/**
 * A defect the kernel sample of hostile input found (hostile-input.kernel.test.ts, seed 15): the
 * nft backend added one element per (frontend, source range) to the interval set
 * firewall-allow-g1, and the kernel refuses overlapping intervals ("Could not process rule: File
 * exists"): the sync failed, and so did the full syncs retried after it (one nft transaction).
 * Kubernetes accepts overlapping ranges. Fixed in core's validation (ea527cf: only the outermost
 * ranges). FakeNftClient took the same text: it does not model interval overlap.
 */
const run = promisify(execFile);

function loadBalancer(sourceRanges: readonly string[]): SourceEvent {
  return {
    action: 'upsert', kind: 'Service', object: {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'lb', namespace: 'default' },
      spec: { type: 'LoadBalancer', clusterIPs: ['10.96.0.1'], loadBalancerSourceRanges: sourceRanges, ports: [{ name: 'http', port: 80, nodePort: 30080 }] },
      status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } },
    },
  };
}

describe('nft: a LoadBalancer whose source ranges overlap (0.0.0.0/0 and 10.0.0.0/8)', () => {
  const namespace = `kpbug-${randomBytes(3).toString('hex')}`;
  beforeAll(() => run('ip', ['netns', 'add', namespace]));
  afterAll(() => run('ip', ['netns', 'del', namespace]));

  it('is programmed by the kernel, in a full sync and in a partial one', async () => {
    const executor = new NetnsExecutor(namespace);
    const proxy = testProxy(nft, { config: NODE_CONFIG, executor });
    await proxy.start([loadBalancer(['0.0.0.0/0', '10.0.0.0/8'])]);
    expect(await executor.read({ tool: 'nft', args: ['list', 'table', 'ip', 'kplane'] })).toContain('198.51.100.1 . tcp . 80 . 0.0.0.0/0');
    await proxy.sync([loadBalancer(['10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/16'])]);
    expect(await executor.read({ tool: 'nft', args: ['list', 'table', 'ip', 'kplane'] })).toContain('198.51.100.1 . tcp . 80 . 10.0.0.0/8');
  });
});
