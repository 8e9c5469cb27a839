import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { IpvsNode } from './support/ipvs-node.js';

// Issue 13, item 8: after a restart, node-address detection must not count the service addresses
// that kplane-ipvs0 holds, or NodePorts open on every cluster, external and load-balancer IP.

const VIP = '10.96.8.10';
const EXTERNAL_IP = '192.0.2.80';
const NODE_PORT = 30090;

let node: IpvsNode;
beforeAll(async () => {
  node = await IpvsNode.create();
});
afterAll(() => node?.destroy());

/** The node's addresses as the CLI detects them: os.networkInterfaces() in the node's namespace, global ones. */
async function detectedNodeIPs(): Promise<string[]> {
  const script = 'process.stdout.write(JSON.stringify(require("node:os").networkInterfaces()))';
  const { stdout } = await execa('ip', ['netns', 'exec', node.sandbox.nodeNamespace, process.execPath, '-e', script]);
  const interfaces = JSON.parse(stdout) as Record<string, { address: string; internal: boolean }[]>;
  return Object.values(interfaces).flat().filter((address) => !address.internal && !address.address.startsWith('fe80:')).map((address) => address.address);
}

/** The entries of the IPv4 NodePort set. */
async function nodePortEntries(): Promise<string[]> {
  const saved = await node.sandbox.inNode('ipset', ['save', 'kplane-ipvs4-node-port']);
  return saved.split('\n').filter((line) => line.startsWith('add ')).map((line) => line.split(' ')[2]!).sort();
}

describe('node addresses for NodePorts across a restart', () => {
  it('a restarted agent opens NodePorts on the node\'s own addresses only, not on the service addresses on kplane-ipvs0', async () => {
    const own = (await detectedNodeIPs()).filter((ip) => !ip.includes(':'));
    const expected = own.map((ip) => `${ip},tcp:${NODE_PORT}`).sort();
    await node.start(node.config({ nodeIPs: await detectedNodeIPs() }));
    await node.upsert(
      serviceObject('web', { clusterIPs: [VIP], externalIPs: [EXTERNAL_IP], type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: NODE_PORT }] }),
      endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: node.sandbox.pod('a').ipv4, nodeName: node.sandbox.pod('a').nodeName }] }),
    );
    expect(await nodePortEntries()).toEqual(expected);
    await node.stop();

    // What makes the case: detection now sees the service addresses the dummy holds.
    const detected = await detectedNodeIPs();
    expect(detected).toEqual(expect.arrayContaining([VIP, EXTERNAL_IP]));
    await node.start(node.config({ nodeIPs: detected }));
    expect(await nodePortEntries()).toEqual(expected);
    const nodePortServices = [...(await node.ipvs()).keys()].filter((key) => key.endsWith(`:${NODE_PORT}`)).sort();
    expect(nodePortServices).toEqual(own.map((ip) => `TCP ${ip}:${NODE_PORT}`).sort());
    expect(await node.sandbox.external.tcp(own.find((ip) => ip.startsWith('192.168.50.'))!, NODE_PORT)).toMatchObject({ ok: true, answer: { pod: 'a' } });
    await node.stop();
  });
});
