import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeNftClient } from '@kplane/backend-nft';
import nft from '@kplane/backend-nft';
import { testProxy } from '@kplane/core/testing';
import type { SourceEvent } from '@kplane/core';
import { NetnsExecutor } from '../../src/index.js';
import { NODE_CONFIG } from './fake-backends.js';

/**
 * Defects the kernel sample of hostile input found (hostile-input.kernel.test.ts), each as a test
 * that FAILS on the code as it is (`it.fails` passes while the defect lasts). Whoever fixes one
 * turns `it.fails` into `it` and removes its workaround in known-bug-workarounds.ts.
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

  // BUG: the nft backend adds one element per (frontend, range) to the interval set
  // firewall-allow-g1; the kernel refuses overlapping intervals ("Could not process rule: File
  // exists"), so the sync fails; the full syncs the engine then retries meet the same element (one
  // nft transaction: nothing of any Service changes while such a Service exists). Kubernetes accepts overlapping ranges (users write 0.0.0.0/0 next
  // to narrower ones). FakeNftClient accepts the same text: it does not model interval overlap.
  it.fails('is programmed by the kernel (FAILS: fix pending)', async () => {
    const proxy = testProxy(nft, { config: NODE_CONFIG, executor: new NetnsExecutor(namespace) });
    await proxy.start([loadBalancer(['0.0.0.0/0', '10.0.0.0/8'])]);
  });

  // The fake passes the same plan: the kernel test above is the only one that sees the defect.
  it('is programmed by FakeNftClient (which should refuse it, as the kernel does)', async () => {
    const client = new FakeNftClient();
    const proxy = testProxy(nft, { config: NODE_CONFIG });
    await proxy.start([loadBalancer(['0.0.0.0/0', '10.0.0.0/8'])]);
    const texts = proxy.executor.batches.filter((batch) => batch.tool === 'nft').map((batch) => batch.input);
    for (const text of texts) client.apply(text);
    expect(texts.join('\n')).toMatch(/0\.0\.0\.0\/0, [^}]*10\.0\.0\.0\/8/);
  });
});
