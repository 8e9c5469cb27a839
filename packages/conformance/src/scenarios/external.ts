import { expect } from 'vitest';
import { SANDBOX_NETWORK, type Sandbox } from '../sandbox/sandbox.js';
import { answers, outcome, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService } from './world.js';

const NODE_V4 = SANDBOX_NETWORK.nodeIPs[0];
const NODE_V6 = SANDBOX_NETWORK.nodeIPs[1];

export const externalScenarios: Scenario[] = [
  {
    title: 'NodePort over IPv4 and IPv6, masqueraded (externalTrafficPolicy Cluster)',
    features: ['TCP', 'IPv4', 'IPv6', 'NodePort'],
    objects: (sandbox) => nodePort(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(nodePort(sandbox));
      const seen = await answers(sandbox.external, NODE_V4, 30080, { count: 24 });
      expect(podsOf(seen)).toEqual(['a', 'b']);
      expect(seen.some((answer) => answer.from === SANDBOX_NETWORK.external.ipv4)).toBe(false);
      expect(podsOf(await answers(sandbox.external, NODE_V6, 30080, { count: 24 }))).toEqual(['a', 'b']);
      expect(podsOf(await answers(sandbox.client, NODE_V4, 30080, { count: 4 })).length).toBeGreaterThan(0);
    },
  },
  {
    title: 'externalIPs',
    features: ['TCP', 'IPv4', 'ExternalIP'],
    objects: (sandbox) => externalIP(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(externalIP(sandbox));
      expect(podsOf(await answers(sandbox.external, '192.0.2.10', 80, { count: 24 }))).toEqual(['a', 'b']);
    },
  },
  {
    title: 'LoadBalancer IP with loadBalancerSourceRanges: allowed sources reach it, others do not',
    features: ['TCP', 'IPv4', 'NodePort', 'LoadBalancerIP', 'LoadBalancerSourceRanges'],
    objects: (sandbox) => loadBalancer(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(loadBalancer(sandbox));
      expect(podsOf(await answers(sandbox.external, '198.51.100.10', 80, { count: 24 }))).toEqual(['a', 'b']);
      expect(outcome(await sandbox.outsider.tcp('198.51.100.10', 80, { timeoutMs: 1000 }))).not.toMatch(/^answered/);
    },
  },
  {
    title: 'externalTrafficPolicy Local: outside clients reach only this node\'s endpoints, unmasqueraded; pods still reach all',
    features: ['TCP', 'IPv4', 'NodePort', 'LoadBalancerIP', 'ExternalTrafficPolicyLocal'],
    objects: (sandbox) => localExternal(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(localExternal(sandbox));
      const viaNodePort = await answers(sandbox.external, NODE_V4, 30081, { count: 12 });
      expect(podsOf(viaNodePort)).toEqual(['a']);
      expect(viaNodePort.every((answer) => answer.from === SANDBOX_NETWORK.external.ipv4)).toBe(true);
      expect(podsOf(await answers(sandbox.external, '198.51.100.11', 80, { count: 12 }))).toEqual(['a']);
      expect(podsOf(await answers(sandbox.client, '198.51.100.11', 80, { count: 24 }))).toEqual(['a', 'r']);
      await apply(localExternal(sandbox, ['r']));
      expect(outcome(await sandbox.external.tcp(NODE_V4, 30081, { timeoutMs: 1000 }))).not.toMatch(/^answered/);
      expect(podsOf(await answers(sandbox.client, '10.96.2.4', 80, { count: 4 }))).toEqual(['r']);
    },
  },
  {
    title: 'internalTrafficPolicy Local: pods reach only this node\'s endpoints',
    features: ['TCP', 'IPv4', 'InternalTrafficPolicyLocal'],
    objects: (sandbox) => localInternal(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(localInternal(sandbox));
      expect(podsOf(await answers(sandbox.client, '10.96.2.5', 80, { count: 12 }))).toEqual(['a']);
    },
  },
];

function nodePort(sandbox: Sandbox) {
  return [
    httpService('shop', { type: 'NodePort', clusterIPs: ['10.96.2.1', 'fd00:10:96::2:1'] }, { nodePort: 30080 }),
    endpoints(sandbox, 'shop', ['a', 'b'], { family: 4 }),
    { ...endpoints(sandbox, 'shop', ['a', 'b'], { family: 6 }) },
  ];
}

function externalIP(sandbox: Sandbox) {
  return [httpService('ext', { clusterIPs: ['10.96.2.2'], externalIPs: ['192.0.2.10'] }), endpoints(sandbox, 'ext', ['a', 'b'])];
}

function loadBalancer(sandbox: Sandbox) {
  return [
    httpService('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.2.3'], loadBalancerIPs: ['198.51.100.10'], loadBalancerSourceRanges: ['192.168.50.0/24'] }, { nodePort: 30090 }),
    endpoints(sandbox, 'lb', ['a', 'b']),
  ];
}

function localExternal(sandbox: Sandbox, pods: readonly string[] = ['a', 'r']) {
  return [
    httpService('edge', { type: 'LoadBalancer', clusterIPs: ['10.96.2.4'], loadBalancerIPs: ['198.51.100.11'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32100 }, { nodePort: 30081 }),
    endpoints(sandbox, 'edge', pods),
  ];
}

function localInternal(sandbox: Sandbox) {
  return [httpService('near', { clusterIPs: ['10.96.2.5'], internalTrafficPolicy: 'Local' }), endpoints(sandbox, 'near', ['a', 'r'])];
}
