import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_NETWORK } from '@kplane/conformance';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { IpvsNode } from './support/ipvs-node.js';

// Real SCTP associations through IPVS virtual services (issue 13): pods a and b serve SCTP on 3868
// with sctp-traffic.py (Node has no SCTP sockets), beside the conformance agent's TCP 8080.

const VIP = '10.96.9.10';
const VIP6 = 'fd00:10:96::9:10';
const NODE_PORT = 30868;
const SCTP_PORT = 3868;

let node: IpvsNode;
beforeAll(async () => {
  node = await IpvsNode.create();
  for (const pod of ['a', 'b']) await node.serveSctp(pod, SCTP_PORT);
  await node.start(node.config());
  await node.upsert(signalling(), ...slices(['a', 'b']));
});
afterAll(() => node?.destroy());

/** A dual-stack NodePort Service with an SCTP port beside a TCP one. */
function signalling(): Record<string, unknown> {
  return serviceObject('diameter', {
    clusterIPs: [VIP, VIP6], type: 'NodePort',
    ports: [{ name: 'diameter', port: SCTP_PORT, protocol: 'SCTP', nodePort: NODE_PORT }, { name: 'http', port: 80, targetPort: 8080, nodePort: 30869 }],
  });
}

function slices(pods: readonly string[]): Record<string, unknown>[] {
  return (['IPv4', 'IPv6'] as const).map((addressType) => endpointSliceObject('diameter', {
    name: `diameter-${addressType.toLowerCase()}`, addressType,
    ports: [{ name: 'diameter', port: SCTP_PORT, protocol: 'SCTP' }, { name: 'http', port: 8080 }],
    endpoints: pods.map((name) => node.sandbox.pod(name)).map((pod) => ({ ip: addressType === 'IPv4' ? pod.ipv4 : pod.ipv6, nodeName: pod.nodeName })),
  }));
}

/** The pods that answered `count` associations to host:port, each from the address the pod saw. */
async function answers(host: string, port: number, count: number, namespace?: string): Promise<{ pods: Set<string>; from: Set<string> }> {
  const pods = new Set<string>();
  const from = new Set<string>();
  for (let i = 0; i < count; i++) {
    const probe = await node.sctp(host, port, namespace);
    if (!probe.ok) throw new Error(`SCTP to ${host}:${port} failed: ${probe.error}`);
    pods.add(probe.answer.pod);
    from.add(probe.answer.from);
  }
  return { pods, from };
}

describe('SCTP through IPVS in a real kernel', () => {
  it('lists the SCTP virtual services with their real servers', async () => {
    const ipvs = await node.ipvs();
    expect([...ipvs.get(`SCTP ${VIP}:${SCTP_PORT}`)!.keys()].sort()).toEqual(['a', 'b'].map((pod) => `${node.sandbox.pod(pod).ipv4}:${SCTP_PORT}`));
    expect(ipvs.has(`SCTP ${SANDBOX_NETWORK.nodeIPs[0]}:${NODE_PORT}`)).toBe(true);
  });

  it('balances SCTP associations to a cluster IP over both endpoints, unmasqueraded from a pod (IPv4 and IPv6)', async () => {
    expect(await answers(VIP, SCTP_PORT, 4)).toEqual({ pods: new Set(['a', 'b']), from: new Set([SANDBOX_NETWORK.client.ipv4]) });
    expect(await answers(VIP6, SCTP_PORT, 4)).toEqual({ pods: new Set(['a', 'b']), from: new Set([SANDBOX_NETWORK.client.ipv6]) });
  });

  it('answers the SCTP NodePort from outside the node, masqueraded to the node\'s pod-network address', async () => {
    expect(await answers(SANDBOX_NETWORK.nodeIPs[0], NODE_PORT, 2, node.sandbox.external.namespace)).toEqual({ pods: new Set(['a', 'b']), from: new Set([SANDBOX_NETWORK.bridge.ipv4]) });
  });

  it('serves the TCP port of the same Service beside it', async () => {
    expect(await node.sandbox.client.tcp(VIP, 80)).toMatchObject({ ok: true, answer: { port: 8080 } });
  });

  it('follows an endpoint change: a removed pod gets no new SCTP associations', async () => {
    await node.upsert(...slices(['a']));
    expect((await answers(VIP, SCTP_PORT, 3)).pods).toEqual(new Set(['a']));
  });
});
