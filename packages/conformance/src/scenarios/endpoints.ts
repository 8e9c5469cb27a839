import { expect } from 'vitest';
import type { Sandbox } from '../sandbox/sandbox.js';
import { answers, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService, service } from './world.js';

const IP = '10.96.3.1';

export const endpointScenarios: Scenario[] = [
  {
    title: 'endpoints added, removed and scaled take effect',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => scaled(sandbox, ['a']),
    run: async ({ sandbox, apply }) => {
      for (const pods of [['a'], ['a', 'b', 'c'], ['b', 'c'], ['d'], ['a', 'b', 'c', 'd']]) {
        await apply(scaled(sandbox, pods));
        expect(podsOf(await answers(sandbox.client, IP, 80, { count: 8 * pods.length }))).toEqual(pods);
      }
    },
  },
  {
    title: 'terminating endpoints take new connections only when no endpoint is ready',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => scaled(sandbox, ['a', 'b'], ['a']),
    run: async ({ sandbox, apply }) => {
      await apply(scaled(sandbox, ['a', 'b'], ['a']));
      expect(podsOf(await answers(sandbox.client, IP, 80, { count: 12 }))).toEqual(['b']);
      await apply(scaled(sandbox, ['a'], ['a']));
      expect(podsOf(await answers(sandbox.client, IP, 80, { count: 4 }))).toEqual(['a']);
    },
  },
  {
    title: 'drain: an established connection to a leaving endpoint keeps working while new ones go elsewhere',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => scaled(sandbox, ['a', 'b']),
    run: async ({ sandbox, apply }) => {
      await apply(scaled(sandbox, ['a', 'b']));
      const first = await sandbox.client.tcp(IP, 80, { keep: 'drain' });
      if (!first.ok) throw new Error(`connect: ${first.error}`);
      const leaving = first.answer.pod;
      const staying = leaving === 'a' ? 'b' : 'a';
      await apply(scaled(sandbox, ['a', 'b'], [leaving]));
      expect(await sandbox.client.send('drain')).toMatchObject({ ok: true, answer: { pod: leaving } });
      expect(podsOf(await answers(sandbox.client, IP, 80, { count: 12 }))).toEqual([staying]);
      await apply(scaled(sandbox, [staying]));
      expect(await sandbox.client.send('drain')).toMatchObject({ ok: true, answer: { pod: leaving } });
      await sandbox.client.close('drain');
    },
  },
  {
    title: 'stale UDP flows to a removed endpoint are deleted, and only those',
    features: ['UDP', 'IPv4'],
    objects: (sandbox) => udp(sandbox, ['a', 'b', 'c']),
    run: async ({ sandbox, apply }) => {
      await apply(udp(sandbox, ['a', 'b', 'c']));
      // Flows from fixed client ports stay with their endpoint (conntrack), whatever the rules say.
      const flows = new Map<number, string>();
      for (let port = 40000; port < 40012; port++) flows.set(port, await udpAnswer(sandbox, port));
      const removed = flows.get(40000)!;
      await apply(udp(sandbox, ['a', 'b', 'c'].filter((pod) => pod !== removed)));
      for (const [port, pod] of flows) {
        const now = await udpAnswer(sandbox, port);
        if (pod === removed) expect(now).not.toBe(removed);
        else expect(now, `flow from port ${port} moved off ${pod}`).toBe(pod);
      }
    },
  },
];

async function udpAnswer(sandbox: Sandbox, sourcePort: number): Promise<string> {
  const result = await sandbox.client.udp('10.96.3.2', 53, { sourcePort });
  if (!result.ok) throw new Error(`UDP from port ${sourcePort}: ${result.error}`);
  return result.answer.pod;
}

function udp(sandbox: Sandbox, pods: readonly string[]) {
  return [
    service('flows', { clusterIPs: ['10.96.3.2'], ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }] }),
    endpoints(sandbox, 'flows', pods, { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] }),
  ];
}

function scaled(sandbox: Sandbox, pods: readonly string[], terminating: readonly string[] = []) {
  return [httpService('scaled', { clusterIPs: [IP] }), endpoints(sandbox, 'scaled', pods, { terminating })];
}
