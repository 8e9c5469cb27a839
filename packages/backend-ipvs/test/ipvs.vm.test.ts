import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_NETWORK } from '@kplane/conformance';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { IpvsNode } from './support/ipvs-node.js';
import { upsert } from './support/world.js';

// IPVS specifics the conformance kit does not look at: converging without rewrites, drift, foreign
// virtual services, and what IPVS persistence means for affinity.

const VIP = '10.96.7.10';
const FOREIGN = '-A -t 10.99.0.1:80 -s wlc';

let node: IpvsNode;
beforeAll(async () => {
  node = await IpvsNode.create();
  await node.sandbox.inNode('ipvsadm', ['-R'], `${FOREIGN}\n`);
});
afterAll(() => node?.destroy());

function service(affinitySeconds?: number): Record<string, unknown> {
  return serviceObject('sticky', { clusterIPs: [VIP], type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30070 }], ...(affinitySeconds && { affinitySeconds }) });
}

function slice(pods: readonly string[]): Record<string, unknown> {
  return endpointSliceObject('sticky', { ports: [{ name: 'http', port: 8080 }], endpoints: pods.map((name) => ({ ip: node.sandbox.pod(name).ipv4, nodeName: node.sandbox.pod(name).nodeName })) });
}

describe('ipvs backend in a real IPVS kernel', () => {
  it('a restarted agent finds the kernel as it wants it: its full sync rewrites no chain, set or virtual service', async () => {
    await node.start(node.config());
    await node.upsert(service(), slice(['a', 'b']));
    await node.stop();
    const before = node.sandbox.executor.applied.length;
    await node.start(node.config());
    const tools = node.sandbox.executor.applied.slice(before).map((batch) => batch.tool);
    expect(tools).toEqual(['sysctl', 'ipset', 'ip']);
    await node.stop();
  });

  it('fails a sync loudly when the kernel drifted under it, and the next (full) sync repairs it', async () => {
    await node.start(node.config());
    await node.stop();
    await node.sandbox.inNode('ipvsadm', ['-D', '-t', `${VIP}:80`]);
    // The cluster IP's line fails ("Service not defined") but the node port's, last, succeeds: ipvsadm exits 0.
    node.proxy.engine.handle([upsert(slice(['a', 'b', 'c']))]);
    expect(await node.proxy.engine.sync()).toBe(false);
    expect(await node.proxy.engine.sync()).toBe(true);
    expect([...(await node.ipvs()).get(`TCP ${VIP}:80`)!.keys()].sort()).toEqual(['a', 'b', 'c'].map((pod) => `${node.sandbox.pod(pod).ipv4}:8080`));
  });

  it('persistence keeps a client on one pod, and lets go once its connections are gone and the timeout passed', async () => {
    await node.start(node.config());
    await node.upsert(service(15), slice(['a', 'b', 'c', 'd']));
    const first = await node.sandbox.client.tcp(VIP, 80, { keep: 'sticky-0' });
    const pod = first.ok ? first.answer.pod : 'none';
    for (let i = 1; i < 5; i++) expect(await node.sandbox.client.tcp(VIP, 80, { keep: `sticky-${i}` })).toMatchObject({ ok: true, answer: { pod } });
    // Reset connections leave the IPVS table after 10 s (CLOSE), before the 15 s template expires. (Closed
    // ones stay 2 min in TIME_WAIT, and a template that outlives its timeout that way is kept 60 s more:
    // IPVS affinity then lasts until the client has made no connection for a minute.)
    await node.resetClientConnections(VIP, 80);
    // The client's persistence template is its entry with port 0.
    const template = ` ${SANDBOX_NETWORK.client.ipv4}:0 `;
    await node.until('the persistence template expired', async () => !(await node.sandbox.inNode('ipvsadm', ['-L', '-n', '-c'])).includes(template), 40_000);
    // rr goes on to the next real server.
    const after = await node.sandbox.client.tcp(VIP, 80);
    expect(after.ok && after.answer.pod !== pod).toBe(true);
    await node.stop();
  });

  it('cleanup removes its virtual services and leaves a foreign one', async () => {
    await node.start(node.config());
    await node.proxy.backend.cleanup();
    expect((await node.sandbox.inNode('ipvsadm', ['-S', '-n'])).trim()).toBe(FOREIGN);
    expect(await node.sandbox.inNode('ip', ['-o', 'link', 'show'])).not.toContain('kplane-ipvs0');
    expect(await node.sandbox.inNode('ipset', ['list', '-n'])).not.toContain('kplane');
    for (const tool of ['iptables', 'ip6tables']) expect(await node.sandbox.inNode(tool, ['-S'])).not.toContain('KPLANE-IPVS');
  });
});
