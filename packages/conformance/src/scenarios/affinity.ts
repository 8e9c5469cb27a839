import { expect } from 'vitest';
import type { Sandbox } from '../sandbox/sandbox.js';
import { answers, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService } from './world.js';

const IP = '10.96.4.1';
const TIMEOUT_SECONDS = 2;

export const affinityScenarios: Scenario[] = [
  {
    title: 'sessionAffinity ClientIP sticks to one endpoint, and lets go after its timeout',
    features: ['TCP', 'IPv4', 'SessionAffinity'],
    objects: (sandbox) => sticky(sandbox),
    run: async ({ sandbox, apply, options }) => {
      await apply(sticky(sandbox));
      const [first, ...rest] = podsOf(await answers(sandbox.client, IP, 80, { count: 16, reset: true }));
      expect(rest).toEqual([]);
      // After the timeout the next connection picks at random again (3 of 4 times another pod).
      const wait = (TIMEOUT_SECONDS + 1 + (options.affinityLingerSeconds ?? 0)) * 1000;
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
