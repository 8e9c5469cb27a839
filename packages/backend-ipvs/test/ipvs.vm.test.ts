import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_NETWORK } from '@kplane/conformance';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { IpvsNode } from './support/ipvs-node.js';
import { upsert } from './support/world.js';

// IPVS specifics the conformance kit does not look at: converging without rewrites, drift, foreign
// virtual services, what IPVS persistence means for affinity, and node addresses across a restart.

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

/** The node's addresses as the CLI detects them (os.networkInterfaces() in the node's namespace, global ones), by interface. */
async function detectedNodeIPs(): Promise<Map<string, string[]>> {
  const script = 'process.stdout.write(JSON.stringify(require("node:os").networkInterfaces()))';
  const { stdout } = await execa('ip', ['netns', 'exec', node.sandbox.nodeNamespace, process.execPath, '-e', script]);
  const interfaces = Object.entries(JSON.parse(stdout) as Record<string, { address: string; internal: boolean }[]>);
  return new Map(interfaces.map(([name, addresses]) => [name, addresses.filter((address) => !address.internal && !address.address.startsWith('fe80:')).map((address) => address.address)]));
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

  it('a restarted agent opens NodePorts on the node\'s own addresses only, not on the service addresses detection finds on kplane-ipvs0', async () => {
    const [vip, externalIP, nodePort] = ['10.96.8.10', '192.0.2.80', 30090];
    const detect = async (): Promise<string[]> => [...(await detectedNodeIPs()).values()].flat();
    // The node's own IPv4 addresses (the earlier tests' service address is on kplane-ipvs0 already).
    const own = [...(await detectedNodeIPs())].filter(([name]) => name !== 'kplane-ipvs0').flatMap(([, addresses]) => addresses).filter((ip) => !ip.includes(':'));
    const expected = own.map((ip) => `${ip},tcp:${nodePort}`).sort();
    const nodePortEntries = async (): Promise<string[]> => (await node.sandbox.inNode('ipset', ['save', 'kplane-ipvs4-node-port'])).split('\n')
      .filter((line) => line.startsWith('add ') && line.endsWith(`tcp:${nodePort}`)).map((line) => line.split(' ')[2]!).sort();
    await node.start(node.config({ nodeIPs: await detect() }));
    await node.upsert(
      serviceObject('web', { clusterIPs: [vip], externalIPs: [externalIP], type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort }] }),
      endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: node.sandbox.pod('a').ipv4, nodeName: node.sandbox.pod('a').nodeName }] }),
    );
    expect(await nodePortEntries()).toEqual(expected);
    await node.stop();
    // What makes the case: detection now sees the service addresses the dummy holds.
    const detected = await detect();
    expect(detected).toEqual(expect.arrayContaining([vip, externalIP]));
    await node.start(node.config({ nodeIPs: detected }));
    expect(await nodePortEntries()).toEqual(expected);
    const nodePortServices = [...(await node.ipvs()).keys()].filter((key) => key.endsWith(`:${nodePort}`)).sort();
    expect(nodePortServices).toEqual(own.map((ip) => `TCP ${ip}:${nodePort}`).sort());
    expect(await node.sandbox.external.tcp(SANDBOX_NETWORK.nodeIPs[0], nodePort)).toMatchObject({ ok: true, answer: { pod: 'a' } });
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
