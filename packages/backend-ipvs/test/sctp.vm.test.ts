import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import iptables from '@kplane/backend-iptables';
import nft from '@kplane/backend-nft';
import { SANDBOX_NETWORK } from '@kplane/conformance';
import type { ContainerModule } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { ipvsModule } from '../src/index.js';
import { IpvsNode } from './support/ipvs-node.js';

// Real SCTP associations through every built-in backend (issue 13): only this VM's kernel has SCTP
// sockets. Pods a and b serve SCTP on 3868 with sctp-traffic.py (Node has no SCTP sockets), beside
// the conformance agent's TCP 8080.

const VIP = '10.96.9.10';
const VIP6 = 'fd00:10:96::9:10';
const NODE_PORT = 30868;
const SCTP_PORT = 3868;

/** Each backend, and a listing of the node's kernel that shows its SCTP cluster-IP frontend. */
const BACKENDS: readonly (readonly [string, ContainerModule, { tool: string; args: string[]; shows: string }])[] = [
  ['ipvs', ipvsModule(), { tool: 'ipvsadm', args: ['-S', '-n'], shows: `-A --sctp-service ${VIP}:${SCTP_PORT} -s rr` }],
  ['nft', nft, { tool: 'nft', args: ['list', 'ruleset'], shows: `${VIP} . sctp . ${SCTP_PORT}` }],
  ['iptables', iptables, { tool: 'iptables-save', args: ['-t', 'nat'], shows: '-p sctp' }],
];

// One sandbox for the three backends in turn (building one costs tens of seconds under emulation):
// each backend starts on a clean node and removes everything it wrote before the next one starts.
let node: IpvsNode;
beforeAll(async () => {
  node = await IpvsNode.create();
  for (const pod of ['a', 'b']) await node.serveSctp(pod, SCTP_PORT);
});
afterAll(() => node?.destroy());

describe.each(BACKENDS)('SCTP through the %s backend in a real kernel', (_name, backend, listing) => {
  beforeAll(async () => {
    await node.start(node.config(), backend);
    await node.upsert(signalling(), ...slices(['a', 'b']));
  });
  afterAll(async () => {
    await node.stop();
    await node.proxy.backend.cleanup();
  });

  it('programs the SCTP frontend in the kernel', async () => {
    expect(await node.sandbox.inNode(listing.tool, listing.args)).toContain(listing.shows);
  });

  it('spreads SCTP associations to a cluster IP over both endpoints, unmasqueraded from a pod (IPv4 and IPv6)', async () => {
    // ipvs round-robins; nft and iptables pick at random: 16 associations miss one of two pods with probability 2^-15.
    expect(await answers(VIP, SCTP_PORT, 16)).toEqual({ pods: new Set(['a', 'b']), from: new Set([SANDBOX_NETWORK.client.ipv4]) });
    expect(await answers(VIP6, SCTP_PORT, 16)).toEqual({ pods: new Set(['a', 'b']), from: new Set([SANDBOX_NETWORK.client.ipv6]) });
  });

  it('answers the SCTP NodePort from outside the node, masqueraded to the node\'s pod-network address', async () => {
    // Held up for 5 s, past the first HEARTBEAT (one RTO, 1.5-4.5 s): a multihomed probe was reset here (see sctp-traffic.py).
    const { pods, from } = await answers(SANDBOX_NETWORK.nodeIPs[0], NODE_PORT, 2, node.sandbox.external.namespace, 5);
    expect([...pods].every((pod) => pod === 'a' || pod === 'b')).toBe(true);
    expect(from).toEqual(new Set([SANDBOX_NETWORK.bridge.ipv4]));
  });

  it('serves the TCP port of the same Service beside it', async () => {
    expect(await node.sandbox.client.tcp(VIP, 80)).toMatchObject({ ok: true, answer: { port: 8080 } });
  });

  it('follows an endpoint change: a removed pod gets no new SCTP associations', async () => {
    await node.upsert(...slices(['a']));
    expect((await answers(VIP, SCTP_PORT, 3)).pods).toEqual(new Set(['a']));
  });
});

/** The pods that answered `count` associations to host:port (each held up `hold` seconds first), and the addresses they saw. */
async function answers(host: string, port: number, count: number, namespace?: string, hold?: number): Promise<{ pods: Set<string>; from: Set<string> }> {
  const pods = new Set<string>();
  const from = new Set<string>();
  for (const probe of await node.sctp(host, port, count, namespace, hold)) {
    if (!probe.ok) throw new Error(`SCTP to ${host}:${port} failed: ${probe.error}`);
    pods.add(probe.answer.pod);
    from.add(probe.answer.from);
  }
  return { pods, from };
}

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
