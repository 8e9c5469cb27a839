import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { IpvsNode } from './support/ipvs-node.js';

// Tampering (issue 15): someone else removes what kplane wrote; the audit (every --audit-period,
// 5 s by default) finds it and the full sync it asks for repairs it, with default flags.

const VIP = '10.96.9.10';
/** Someone else's virtual service and set in the node's namespace. */
const FOREIGN_SERVICE = '-A -t 10.99.1.1:80 -s wlc\n-a -t 10.99.1.1:80 -r 10.99.2.1:80 -m -w 1\n';
const FOREIGN_SET = 'foreign-set';
/** The bound the issue sets on finding and repairing a tampering. */
const REPAIRED_WITHIN_MS = 10_000;

let node: IpvsNode;
beforeAll(async () => {
  node = await IpvsNode.create();
  await node.sandbox.inNode('ipvsadm', ['-R'], FOREIGN_SERVICE);
  await node.sandbox.inNode('ipset', ['create', FOREIGN_SET, 'hash:ip']);
  await node.sandbox.inNode('ipset', ['add', FOREIGN_SET, '10.99.2.1']);
});
afterAll(() => node?.destroy());

/** Someone else's objects as the tools list them. */
async function foreign(): Promise<string[]> {
  const services = (await node.sandbox.inNode('ipvsadm', ['-S', '-n'])).split('\n').filter((line) => line.includes(' 10.99.'));
  return [...services, await node.sandbox.inNode('ipset', ['save', FOREIGN_SET])];
}

/** One connection from the client pod to the cluster IP (refused or reset fast when broken). */
async function answered(): Promise<boolean> {
  return (await node.sandbox.client.tcp(VIP, 80, { timeoutMs: 1000 })).ok;
}

describe('ipvs: tampering is found by the audit and repaired within 10 s (default flags)', () => {
  it('ipset del of the cluster IP\'s record, then ipvsadm -D of its virtual service; someone else\'s virtual service and set are left as they are', async () => {
    await node.start(node.config({ minSyncPeriodMs: DEFAULT_CONFIG.minSyncPeriodMs }));
    await node.upsert(
      serviceObject('web', { clusterIPs: [VIP], ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
      endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: ['a', 'b'].map((pod) => ({ ip: node.sandbox.pod(pod).ipv4, nodeName: node.sandbox.pod(pod).nodeName })) }),
    );
    expect(await answered()).toBe(true);
    const before = await foreign();
    expect(before).toHaveLength(3);

    // Without its record in the cluster-IP set, KPLANE-IPVS-FILTER rejects new connections to the address.
    await node.sandbox.inNode('ipset', ['del', 'kplane-ipvs4-cluster-ip', `${VIP},tcp:80`]);
    expect(await answered()).toBe(false);
    await node.until('the cluster IP answers again after ipset del', answered, REPAIRED_WITHIN_MS);

    await node.sandbox.inNode('ipvsadm', ['-D', '-t', `${VIP}:80`]);
    expect(await answered()).toBe(false);
    await node.until('the cluster IP answers again after ipvsadm -D', answered, REPAIRED_WITHIN_MS);

    expect(await foreign()).toEqual(before);
    expect(await node.proxy.backend.audit!()).toEqual([]);
    await node.stop();
  });
});
