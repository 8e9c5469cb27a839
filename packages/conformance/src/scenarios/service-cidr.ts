import { execa } from 'execa';
import { expect } from 'vitest';
import type { ConformanceHarness } from '../harness.js';
import { SANDBOX_NETWORK, type Sandbox } from '../sandbox/sandbox.js';
import { answers, outcome, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService } from './world.js';

/** Per family: the service CIDR, the Service's cluster IP in it, an address in it no Service has, and the witness's gateway. */
const FAMILIES = [
  { family: 4, cidr: '10.96.0.0/12', clusterIP: '10.96.7.1', unallocated: '10.96.7.2', host: 32, witness: SANDBOX_NETWORK.external.ipv4 },
  { family: 6, cidr: 'fd00:10:96::/108', clusterIP: 'fd00:10:96::7:1', unallocated: 'fd00:10:96::7:2', host: 128, witness: SANDBOX_NETWORK.external.ipv6 },
] as const;

/**
 * A witness behind each unallocated address: the node routes it to the outside client, which owns it
 * and answers on port 80. Without kplane's drop a connection reaches the witness, so a probe that
 * times out shows the drop, not a route to nowhere.
 */
async function addWitness(sandbox: Sandbox): Promise<void> {
  for (const { unallocated, host, witness } of FAMILIES) {
    await execa('ip', ['-n', `${sandbox.prefix}-ext`, 'addr', 'replace', `${unallocated}/${host}`, 'dev', 'lo']);
    await sandbox.inNode('ip', ['route', 'replace', `${unallocated}/${host}`, 'via', witness]);
  }
  await sandbox.external.serve('witness', { tcp: [80], udp: [] });
}

/** The routes and addresses go; the witness's server stays (nothing else reaches the outside client on port 80). */
async function removeWitness(sandbox: Sandbox): Promise<void> {
  for (const { unallocated, host } of FAMILIES) {
    await sandbox.inNode('ip', ['route', 'del', `${unallocated}/${host}`]);
    await execa('ip', ['-n', `${sandbox.prefix}-ext`, 'addr', 'del', `${unallocated}/${host}`, 'dev', 'lo']);
  }
}

function world(sandbox: Sandbox, withServiceCIDR: boolean): Record<string, unknown>[] {
  return [
    httpService('web', { clusterIPs: FAMILIES.map(({ clusterIP }) => clusterIP) }),
    ...FAMILIES.map(({ family }) => endpoints(sandbox, 'web', ['a'], { family })),
    ...(withServiceCIDR ? [{ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs: FAMILIES.map(({ cidr }) => cidr) } }] : []),
  ];
}

export const serviceCIDRScenarios: Scenario[] = [
  {
    title: 'ServiceCIDR: an unallocated address inside it is dropped, a cluster IP\'s unserved port is rejected at once, its served port answers (both families)',
    features: ['TCP', 'IPv4', 'IPv6'],
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
  for (const { unallocated } of FAMILIES) expect(outcome(await sandbox.client.tcp(unallocated, 80))).toBe('answered by witness');

  await apply(world(sandbox, true));
  for (const { clusterIP, unallocated } of FAMILIES) {
    for (const from of [sandbox.client, sandbox.node]) {
      expect(outcome(await from.tcp(unallocated, 80)), `${unallocated} from ${from.namespace}`).toBe('TIMEOUT');
      expect(outcome(await from.tcp(clusterIP, 9999)), `${clusterIP} port 9999 from ${from.namespace}`).toBe('ECONNREFUSED');
      expect(podsOf(await answers(from, clusterIP, 80, { count: 2 }))).toEqual(['a']);
    }
  }

  // The ServiceCIDR deleted: the addresses are no longer the cluster's to drop.
  await apply(world(sandbox, false));
  for (const { unallocated } of FAMILIES) expect(outcome(await sandbox.client.tcp(unallocated, 80))).toBe('answered by witness');
}
