import { expect } from 'vitest';
import { SANDBOX_NETWORK } from '../sandbox/sandbox.js';
import { answers, outcome, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService, service } from './world.js';

export const clusterIPScenarios: Scenario[] = [
  {
    title: 'ClusterIP TCP: spreads connections over the endpoints, keeping the pod client\'s address',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => [httpService('web', { clusterIPs: ['10.96.1.1'] }), endpoints(sandbox, 'web', ['a', 'b'])],
    run: async ({ sandbox, apply }) => {
      await apply([httpService('web', { clusterIPs: ['10.96.1.1'] }), endpoints(sandbox, 'web', ['a', 'b'])]);
      const seen = await answers(sandbox.client, '10.96.1.1', 80, { count: 24 });
      expect(podsOf(seen)).toEqual(['a', 'b']);
      expect(new Set(seen.map((answer) => `${answer.port} ${answer.from}`))).toEqual(new Set([`8080 ${SANDBOX_NETWORK.client.ipv4}`]));
    },
  },
  {
    title: 'ClusterIP UDP',
    features: ['UDP', 'IPv4'],
    objects: (sandbox) => dns(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(dns(sandbox));
      const seen = await answers(sandbox.client, '10.96.1.2', 53, { count: 24, udp: true });
      expect(podsOf(seen)).toEqual(['a', 'b']);
      expect(seen.every((answer) => answer.port === 5353)).toBe(true);
    },
  },
  {
    title: 'ClusterIP over IPv6',
    features: ['TCP', 'IPv6'],
    objects: (sandbox) => v6(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(v6(sandbox));
      const seen = await answers(sandbox.client, 'fd00:10:96::3', 80, { count: 24 });
      expect(podsOf(seen)).toEqual(['a', 'b']);
      expect(seen.every((answer) => answer.from === SANDBOX_NETWORK.client.ipv6)).toBe(true);
    },
  },
  {
    title: 'several ports on one Service, and a named targetPort resolved by the EndpointSlice',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => multiPort(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(multiPort(sandbox));
      expect((await answers(sandbox.client, '10.96.1.4', 80, { count: 4 })).map((answer) => answer.port)).toEqual([8080, 8080, 8080, 8080]);
      expect((await answers(sandbox.client, '10.96.1.4', 81, { count: 4 })).map((answer) => answer.port)).toEqual([9090, 9090, 9090, 9090]);
    },
  },
  {
    title: 'a port no Service uses on a service IP, and a Service without endpoints, are refused at once',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => refused(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(refused(sandbox));
      expect(outcome(await sandbox.client.tcp('10.96.1.5', 9999))).toBe('ECONNREFUSED');
      expect(outcome(await sandbox.client.tcp('10.96.1.6', 80))).toBe('ECONNREFUSED');
      expect(outcome(await sandbox.node.tcp('10.96.1.6', 80))).toBe('ECONNREFUSED');
    },
  },
  {
    title: 'hairpin: a pod reaching itself through its Service is masqueraded',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => [httpService('self', { clusterIPs: ['10.96.1.7'] }), endpoints(sandbox, 'self', ['a'])],
    run: async ({ sandbox, apply }) => {
      await apply([httpService('self', { clusterIPs: ['10.96.1.7'] }), endpoints(sandbox, 'self', ['a'])]);
      const [answer] = await answers(sandbox.pod('a').agent, '10.96.1.7', 80, { count: 1 });
      expect(answer!.pod).toBe('a');
      expect(answer!.from).not.toBe(sandbox.pod('a').ipv4);
    },
  },
  {
    title: 'traffic from outside the cluster CIDRs to a ClusterIP is masqueraded; from the node itself it works too',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => [httpService('web', { clusterIPs: ['10.96.1.1'] }), endpoints(sandbox, 'web', ['a'])],
    run: async ({ sandbox, apply }) => {
      await apply([httpService('web', { clusterIPs: ['10.96.1.1'] }), endpoints(sandbox, 'web', ['a'])]);
      const [external] = await answers(sandbox.external, '10.96.1.1', 80, { count: 1 });
      expect(external!.from).not.toBe(SANDBOX_NETWORK.external.ipv4);
      expect(podsOf(await answers(sandbox.node, '10.96.1.1', 80, { count: 2 }))).toEqual(['a']);
    },
  },
];

function dns(sandbox: Parameters<Scenario['objects']>[0]) {
  return [
    service('dns', { clusterIPs: ['10.96.1.2'], ports: [{ name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' }] }),
    endpoints(sandbox, 'dns', ['a', 'b'], { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }] }),
  ];
}

function v6(sandbox: Parameters<Scenario['objects']>[0]) {
  return [httpService('web6', { clusterIPs: ['fd00:10:96::3'] }), endpoints(sandbox, 'web6', ['a', 'b'], { family: 6 })];
}

function multiPort(sandbox: Parameters<Scenario['objects']>[0]) {
  return [
    service('multi', { clusterIPs: ['10.96.1.4'], ports: [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'admin', port: 81, targetPort: 9090 }] }),
    endpoints(sandbox, 'multi', ['a', 'b'], { ports: [{ name: 'http', port: 8080 }, { name: 'admin', port: 9090 }] }),
  ];
}

function refused(sandbox: Parameters<Scenario['objects']>[0]) {
  return [httpService('web', { clusterIPs: ['10.96.1.5'] }), endpoints(sandbox, 'web', ['a']), httpService('nobody', { clusterIPs: ['10.96.1.6'] })];
}
