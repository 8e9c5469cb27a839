import { expect } from 'vitest';
import { withoutEmptyTables } from '../sandbox/ruleset-snapshot.js';
import { SANDBOX_NETWORK, type Sandbox } from '../sandbox/sandbox.js';
import { answers, podsOf } from './probes.js';
import type { Scenario } from './scenario.js';
import { endpoints, httpService } from './world.js';

export const lifecycleScenarios: Scenario[] = [
  {
    title: 'a sync is one batched call per tool, however many services change',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => many(sandbox, 40),
    run: async (harness) => {
      const { sandbox, apply } = harness;
      for (const world of [many(sandbox, 40), many(sandbox, 40, ['b']), []]) {
        const before = sandbox.executor.applied.length;
        await apply(world);
        const calls = new Map<string, number>();
        for (const batch of sandbox.executor.applied.slice(before)) calls.set(batch.tool, (calls.get(batch.tool) ?? 0) + 1);
        calls.delete('conntrack');
        expect([...calls.values()].every((count) => count <= 1), JSON.stringify(Object.fromEntries(calls))).toBe(true);
      }
    },
  },
  {
    title: 'deleting a Service removes every trace of it',
    features: ['TCP', 'IPv4', 'IPv6', 'NodePort', 'ExternalIP', 'LoadBalancerIP', 'SessionAffinity'],
    objects: (sandbox) => everything(sandbox),
    run: async (harness) => {
      await harness.apply([]);
      const empty = await harness.snapshot();
      await harness.apply(everything(harness.sandbox));
      expect(podsOf(await answers(harness.sandbox.client, '10.96.5.1', 80, { count: 4 })).length).toBe(1);
      await harness.apply([]);
      expect(await harness.snapshot()).toBe(empty);
    },
  },
  {
    title: 'service traffic is forwarded even where the host\'s FORWARD policy is DROP',
    features: ['TCP', 'IPv4', 'NodePort'],
    objects: (sandbox) => forwarded(sandbox),
    run: async (harness) => {
      const { sandbox } = harness;
      await sandbox.inNode('iptables-nft', ['-w', '5', '-P', 'FORWARD', 'DROP']);
      await sandbox.inNode('ip6tables-nft', ['-w', '5', '-P', 'FORWARD', 'DROP']);
      await harness.restart();
      await harness.apply(forwarded(sandbox));
      expect(podsOf(await answers(sandbox.client, '10.96.5.2', 80, { count: 12 }))).toEqual(['a', 'b']);
      expect(podsOf(await answers(sandbox.external, SANDBOX_NETWORK.nodeIPs[0], 30082, { count: 12 }))).toEqual(['a', 'b']);
    },
  },
  {
    title: 'a restarted agent converges to the same ruleset and keeps serving',
    features: ['TCP', 'IPv4', 'IPv6', 'NodePort', 'ExternalIP', 'LoadBalancerIP', 'SessionAffinity'],
    objects: (sandbox) => everything(sandbox),
    run: async (harness) => {
      const normalize = harness.options.normalizeRuleset ?? ((text: string) => text);
      await harness.apply([...everything(harness.sandbox), ...many(harness.sandbox, 10)]);
      const before = normalize(await harness.snapshot());
      await harness.restart();
      expect(normalize(await harness.snapshot())).toBe(before);
      expect(podsOf(await answers(harness.sandbox.client, '10.96.6.3', 80, { count: 12 }))).toEqual(['a', 'b']);
    },
  },
  {
    title: 'cleanup removes everything kplane wrote and leaves foreign tables, rules and sets intact',
    features: ['TCP', 'IPv4'],
    objects: (sandbox) => many(sandbox, 3),
    run: async (harness) => {
      const { sandbox } = harness;
      await harness.apply([...everything(sandbox), ...many(sandbox, 3)]);
      await sandbox.inNode('nft', ['-f', '-'], 'table inet foreign {\n chain input {\n type filter hook input priority 0;\n tcp dport 5555 accept\n }\n}\n');
      await sandbox.inNode('iptables-nft', ['-w', '5', '-N', 'FOREIGN']);
      await sandbox.inNode('iptables-nft', ['-w', '5', '-A', 'FORWARD', '-j', 'FOREIGN']);
      await sandbox.inNode('ipset', ['create', 'foreign', 'hash:ip']);
      const withForeign = await harness.snapshot();
      await harness.proxy.backend.cleanup();
      const after = await harness.snapshot();
      for (const mark of ['"foreign"', '"FOREIGN"', 'create foreign hash:ip']) expect(withForeign).toContain(mark);
      for (const mark of ['"foreign"', '"FOREIGN"', 'create foreign hash:ip']) expect(after).toContain(mark);
      await sandbox.inNode('nft', ['delete', 'table', 'inet', 'foreign']);
      await sandbox.inNode('iptables-nft', ['-w', '5', '-D', 'FORWARD', '-j', 'FOREIGN']);
      await sandbox.inNode('iptables-nft', ['-w', '5', '-X', 'FOREIGN']);
      await sandbox.inNode('iptables-nft', ['-w', '5', '-P', 'FORWARD', 'ACCEPT']);
      await sandbox.inNode('ip6tables-nft', ['-w', '5', '-P', 'FORWARD', 'ACCEPT']);
      await sandbox.inNode('ipset', ['destroy', 'foreign']);
      // Tables iptables-nft made along the way and left empty change nothing: they are not a trace.
      expect(withoutEmptyTables(await harness.snapshot())).toBe(withoutEmptyTables(harness.pristine));
    },
  },
];

/** `count` plain services 10.96.6.x, each on pods a and b (or `pods`). */
function many(sandbox: Sandbox, count: number, pods: readonly string[] = ['a', 'b']) {
  return Array.from({ length: count }, (_, i) => [
    httpService(`many-${i}`, { clusterIPs: [`10.96.6.${i + 1}`] }),
    endpoints(sandbox, `many-${i}`, i === 0 ? ['a', 'b'] : pods),
  ]).flat();
}

/** One service with every frontend kind and affinity, dual-stack. */
function everything(sandbox: Sandbox) {
  return [
    httpService('everything', {
      type: 'LoadBalancer', clusterIPs: ['10.96.5.1', 'fd00:10:96::5:1'], externalIPs: ['192.0.2.51'], loadBalancerIPs: ['198.51.100.51'],
      loadBalancerSourceRanges: ['192.168.50.0/24'], affinitySeconds: 30,
    }, { nodePort: 30051 }),
    endpoints(sandbox, 'everything', ['a', 'b']),
    endpoints(sandbox, 'everything', ['a', 'b'], { family: 6 }),
  ];
}

function forwarded(sandbox: Sandbox) {
  return [httpService('fwd', { type: 'NodePort', clusterIPs: ['10.96.5.2'] }, { nodePort: 30082 }), endpoints(sandbox, 'fwd', ['a', 'b'])];
}
