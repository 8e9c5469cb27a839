import { execa } from 'execa';
import { expect } from 'vitest';
import type { ConformanceHarness } from '../harness.js';
import { SANDBOX_NETWORK, type Sandbox } from '../sandbox/sandbox.js';
import { answers, outcome, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService } from './world.js';

const CLUSTER_IP = '10.96.7.1';
/** Inside the service CIDR, allocated to no Service. */
const UNALLOCATED = '10.96.7.2';

/**
 * A witness behind the unallocated address: the node routes it to the outside client, which owns it
 * and answers on port 80. Without kplane's drop a connection reaches the witness, so a probe that
 * times out shows the drop, not a route to nowhere.
 */
async function addWitness(sandbox: Sandbox): Promise<void> {
  await execa('ip', ['-n', `${sandbox.prefix}-ext`, 'addr', 'replace', `${UNALLOCATED}/32`, 'dev', 'lo']);
  await sandbox.inNode('ip', ['route', 'replace', `${UNALLOCATED}/32`, 'via', SANDBOX_NETWORK.external.ipv4]);
  await sandbox.external.serve('witness', { tcp: [80], udp: [] });
}

/** The route and address go; the witness's server stays (nothing else reaches the outside client on port 80). */
async function removeWitness(sandbox: Sandbox): Promise<void> {
  await sandbox.inNode('ip', ['route', 'del', `${UNALLOCATED}/32`]);
  await execa('ip', ['-n', `${sandbox.prefix}-ext`, 'addr', 'del', `${UNALLOCATED}/32`, 'dev', 'lo']);
}

function world(sandbox: Sandbox, withServiceCIDR: boolean): Record<string, unknown>[] {
  return [
    httpService('web', { clusterIPs: [CLUSTER_IP] }),
    endpoints(sandbox, 'web', ['a']),
    ...(withServiceCIDR ? [{ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: ['10.96.0.0/12'] } }] : []),
  ];
}

export const serviceCIDRScenarios: Scenario[] = [
  {
    title: 'ServiceCIDR: an unallocated address inside it is dropped, a cluster IP\'s unserved port is rejected at once, its served port answers',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => world(sandbox, true),
    run: async ({ sandbox, apply }) => {
      await addWitness(sandbox);
      try {
        await checkServiceCIDR(sandbox, apply);
      } finally {
        await removeWitness(sandbox);
      }
    },
  },
];

/** Without the ServiceCIDR the witness answers; with it the address is dropped, the cluster IP served or refused; deleted, the witness again. */
async function checkServiceCIDR(sandbox: Sandbox, apply: ConformanceHarness['apply']): Promise<void> {
  await apply(world(sandbox, false));
  expect(outcome(await sandbox.client.tcp(UNALLOCATED, 80))).toBe('answered by witness');

  await apply(world(sandbox, true));
  expect(outcome(await sandbox.client.tcp(UNALLOCATED, 80))).toBe('TIMEOUT');
  expect(outcome(await sandbox.node.tcp(UNALLOCATED, 80))).toBe('TIMEOUT');
  expect(outcome(await sandbox.client.tcp(CLUSTER_IP, 9999))).toBe('ECONNREFUSED');
  expect(outcome(await sandbox.node.tcp(CLUSTER_IP, 9999))).toBe('ECONNREFUSED');
  expect(podsOf(await answers(sandbox.client, CLUSTER_IP, 80, { count: 4 }))).toEqual(['a']);
  expect(podsOf(await answers(sandbox.node, CLUSTER_IP, 80, { count: 2 }))).toEqual(['a']);

  // The ServiceCIDR deleted: the address is no longer the cluster's to drop.
  await apply(world(sandbox, false));
  expect(outcome(await sandbox.client.tcp(UNALLOCATED, 80))).toBe('answered by witness');
}
