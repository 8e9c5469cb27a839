import { release } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { ipvsSysctls } from '../src/index.js';
import { IpvsNode } from './support/ipvs-node.js';

// Seed 001 ("Problems IPVS brings in k8s") in a real IPVS kernel: the sysctls, source-port reuse,
// and graceful drain with its grace period.

const VIP = '10.96.1.10';
const VIP6 = 'fd00:10:96::1:10';
const REUSED_PORTS = [41001, 41002, 41003, 41004];

let node: IpvsNode;
beforeAll(async () => {
  node = await IpvsNode.create();
  for (const pod of ['a', 'b']) await node.serveClosing(pod, 7070);
});
afterAll(() => node?.destroy());

/** Service `web`: port 80 → the pods' 8080 (the conformance agent), port 70 → 7070 (servers that close first). */
function web(): Record<string, unknown> {
  return serviceObject('web', { clusterIPs: [VIP], ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'closing', port: 70, targetPort: 7070 }] });
}

/** Service `web6`: IPv6 only, port 80 → 8080. */
function web6(): Record<string, unknown> {
  return serviceObject('web6', { clusterIPs: [VIP6], ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
}

/** Pods a and b as the endpoints of `service`; the `terminating` ones still serving. */
function endpoints(service: 'web' | 'web6', terminating: readonly string[] = []): Record<string, unknown> {
  const family = service === 'web' ? 4 : 6;
  return endpointSliceObject(service, {
    addressType: family === 4 ? 'IPv4' : 'IPv6',
    ports: family === 4 ? [{ name: 'http', port: 8080 }, { name: 'closing', port: 7070 }] : [{ name: 'http', port: 8080 }],
    endpoints: ['a', 'b'].map((name) => node.sandbox.pod(name)).map((pod) => ({
      ip: family === 4 ? pod.ipv4 : pod.ipv6, nodeName: pod.nodeName, ...(terminating.includes(pod.name) && { ready: false, serving: true, terminating: true }),
    })),
  });
}

describe('seed 001 in a real IPVS kernel', () => {
  it('writes the sysctls chosen for this kernel', async () => {
    const keys = ipvsSysctls(release()).map((choice) => choice.key);
    await node.sandbox.inNode('sysctl', ['-q', '-w', ...keys.map((key) => `${key}=0`)]);
    await node.start(node.config());
    const written = new Map((await node.sandbox.inNode('sysctl', keys)).split('\n').map((line) => line.split(' = ') as [string, string]));
    for (const choice of ipvsSysctls(release())) expect({ key: choice.key, value: Number(written.get(choice.key)) }).toEqual({ key: choice.key, value: choice.value ?? 0 });
    // The VM's Debian kernel (6.1) has the 5.9 fix: conn_reuse_mode stays 1, so reused ports are rescheduled.
    expect(written.get('net.ipv4.vs.conn_reuse_mode')).toBe('1');
    await node.stop();
  });

  it('answers every one of many short connections that reuse their source ports, with no SYN dropped', async () => {
    await node.start(node.config());
    await node.upsert(web(), endpoints('web'));
    const retransmitsBefore = await node.clientSynRetransmits();
    const { answers, failures } = await node.burst(VIP, 70, 200, REUSED_PORTS);
    expect(failures).toEqual([]);
    expect(answers.a! + answers.b!).toBe(200);
    expect(await node.clientSynRetransmits()).toBe(retransmitsBefore);
    await node.stop();
  });

  it('drains: the established connection keeps working, new ones (reused ports too) go to the other pod, and the drained server goes when its connection ends', async () => {
    await node.start(node.config({ drainGraceMs: 90_000 }));
    await node.upsert(web(), endpoints('web'));
    const client = node.sandbox.client;
    const kept = await node.keepConnectionTo(VIP, 80, 'a', 'drain');
    // IPVS now holds TIME_WAIT connections from the reused ports to both pods.
    expect((await node.burst(VIP, 70, 8, REUSED_PORTS)).answers).toEqual({ a: 4, b: 4 });

    await node.upsert(endpoints('web', ['a']));
    const a = node.sandbox.pod('a').ipv4;
    const drained = await node.ipvs();
    expect(drained.get(`TCP ${VIP}:80`)?.get(`${a}:8080`)).toMatchObject({ weight: 0, active: 1 });
    expect(drained.get(`TCP ${VIP}:70`)?.get(`${a}:7070`)).toMatchObject({ weight: 0 });

    expect(await client.send(kept)).toMatchObject({ ok: true, answer: { pod: 'a' } });
    for (let i = 0; i < 6; i++) expect(await client.tcp(VIP, 80)).toMatchObject({ ok: true, answer: { pod: 'b' } });
    expect(await node.burst(VIP, 70, 8, REUSED_PORTS)).toEqual({ answers: { b: 8 }, failures: [] });

    await node.resetClientConnections(VIP, 80);
    await node.until(`${a}:8080 deleted from ${VIP}:80`, async () => !(await node.ipvs()).get(`TCP ${VIP}:80`)?.has(`${a}:8080`), 45_000);
    await node.stop();
  });

  it('deletes a draining server at the end of the grace period even with an open connection (IPv6)', async () => {
    await node.start(node.config({ drainGraceMs: 5_000 }));
    await node.upsert(web6(), endpoints('web6'));
    const client = node.sandbox.client;
    const kept = await node.keepConnectionTo(VIP6, 80, 'b', 'grace');
    await node.upsert(endpoints('web6', ['b']));
    const b = `[${node.sandbox.pod('b').ipv6}]:8080`;
    expect((await node.ipvs()).get(`TCP [${VIP6}]:80`)?.get(b)).toMatchObject({ weight: 0, active: 1 });
    await node.until(`${b} deleted from [${VIP6}]:80`, async () => !(await node.ipvs()).get(`TCP [${VIP6}]:80`)?.has(b), 30_000);
    // expire_nodest_conn=1: the connection to the deleted server ends instead of hanging.
    expect(await client.send(kept)).toMatchObject({ ok: false });
    await node.stop();
  });
});
