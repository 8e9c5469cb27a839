import { expect } from 'vitest';
import type { Sandbox } from '../sandbox/sandbox.js';
import { answers, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService } from './world.js';

const IP = '10.96.4.1';
/**
 * Longer than the 10 s IPVS keeps a reset connection (its CLOSE state): IPVS persistence cannot
 * expire while it still pins a connection, and re-arms for 60 s when it tries. With this timeout
 * every backend lets a client go TIMEOUT_SECONDS after its last connection.
 */
const TIMEOUT_SECONDS = 12;

export const affinityScenarios: Scenario[] = [
  {
    title: 'sessionAffinity ClientIP sticks to one endpoint, and lets go after its timeout',
    features: ['TCP', 'IPv4', 'SessionAffinity'],
    objects: (sandbox) => sticky(sandbox),
    run: async ({ sandbox, apply }) => {
      await apply(sticky(sandbox));
      const [first, ...rest] = podsOf(await answers(sandbox.client, IP, 80, { count: 16, reset: true }));
      expect(rest).toEqual([]);
      // After the timeout the next connection picks at random again (3 of 4 times another pod).
      // Probes close with a reset: a closed connection would sit 2 min in TIME_WAIT, pinning IPVS affinity.
      const wait = (TIMEOUT_SECONDS + 1) * 1000;
      const later: string[] = [];
      for (let round = 0; round < 8 && later.every((pod) => pod === first); round++) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        later.push(...podsOf(await answers(sandbox.client, IP, 80, { count: 1, reset: true })));
      }
      expect(later.some((pod) => pod !== first)).toBe(true);
    },
  },
];

function sticky(sandbox: Sandbox) {
  return [httpService('sticky', { clusterIPs: [IP], affinitySeconds: TIMEOUT_SECONDS }), endpoints(sandbox, 'sticky', ['a', 'b', 'c', 'd'])];
}
