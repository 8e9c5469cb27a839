import { DEFAULT_CONFIG, DryRunExecutor, createLogger, createProxy, type SourceEvent } from '@kplane/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { savedRules } from '../src/client/listing.js';
import plugin, { type IptablesBackend } from '../src/index.js';
import { TREE_CHAIN } from '../src/planner/audit.js';
import { TestNetwork } from './support/netns.js';

function service(index: number): SourceEvent[] {
  const name = `s${index}`;
  return [
    upsert(serviceObject(name, { clusterIPs: [`10.96.${(index * 37) % 256}.${(index * 11) % 250 + 1}`], ports: [{ name: 'http', port: 80 }] })),
    upsert(endpointSliceObject(name, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.250.2.2', nodeName: 'node-a' }] })),
  ];
}

/** The tree chains with their rules, as one text to compare. */
const treeChains = (chains: [string, readonly string[]][]): string =>
  chains.filter(([chain]) => TREE_CHAIN.test(chain)).sort(([a], [b]) => a.localeCompare(b)).map(([chain, rules]) => `${chain}: ${rules.join('; ')}`).join('\n');

const range = (from: number, to: number): SourceEvent[] => Array.from({ length: to - from }, (_, offset) => service(from + offset)).flat();

/**
 * `kplane plan --diff` in a namespace of its own, both iptables variants: an agent programs 30
 * Services in a full sync and 12 more in a partial one (its trees, in leaves of 4, then differ in
 * shape and numbers from a fresh full sync's); a fresh proxy on a dry-run executor reading that
 * kernel plans the same 42 and finds no drift; it finds a Service missing, a deleted leaf rule, a
 * flushed service chain and a deleted hook.
 */
for (const mode of ['nft', 'legacy'] as const) {
  describe(`iptables-${mode}: kplane plan --diff`, () => {
    let network: TestNetwork;
    const config = { ...DEFAULT_CONFIG, nodeName: 'node-a', clusterCIDRs: ['10.250.1.0/24'], backendOptions: new Map([['mode', mode], ['leaf-size', '4']]) };
    const iptables = `iptables-${mode}`;

    /** The plan's tree chains and rules, for the last planDiff. */
    let planned = '';

    async function planDiff(events: readonly SourceEvent[]): Promise<readonly string[]> {
      const plan = createProxy({ config, executor: new DryRunExecutor(network.executor), logger: createLogger('silent') }, plugin);
      await plan.backend.init();
      plan.engine.handle(events);
      expect(await plan.engine.sync()).toBe(true);
      planned = treeChains([...(plan.backend as IptablesBackend).tables(4)!.writtenChains('nat')]);
      return plan.backend.diff!();
    }

    beforeAll(async () => {
      network = await TestNetwork.create();
      const agent = createProxy({ config, executor: network.executor, logger: createLogger('silent') }, plugin);
      await agent.backend.init();
      agent.engine.handle(range(0, 30));
      expect(await agent.engine.sync()).toBe(true);
      agent.engine.handle(range(30, 42));
      expect(await agent.engine.sync()).toBe(true);
    }, 60_000);

    afterAll(async () => {
      await network?.destroy();
    });

    it('finds no drift where the kernel holds the plan, whatever its trees\' shape and numbers', async () => {
      expect(await planDiff(range(0, 42))).toEqual([]);
      const kernel = [...savedRules(await network.inNode(`${iptables}-save`, '-t', 'nat')).get('nat')!];
      expect(treeChains(kernel)).not.toEqual(planned);
    });

    it('finds a Service the plan has and the kernel lacks', async () => {
      const drift = await planDiff(range(0, 43));
      expect(drift).toEqual([
        expect.stringMatching(new RegExp(`^${iptables} nat KPLANE-SEP-\\w+: missing$`)),
        expect.stringMatching(new RegExp(`^${iptables} nat KPLANE-SVC-\\w+: missing$`)),
        expect.stringMatching(new RegExp(`^${iptables} nat KPLANE-IPS: the kernel's tree lacks "-d 10\\.96\\.18\\.213/32 -p tcp -m tcp --dport 80 -j KPLANE-SVC-\\w+"$`)),
        `${iptables} nat KPLANE-IPS: the kernel's tree lacks "-d 10.96.18.213/32 -j KPLANE-REJECT"`,
      ]);
    });

    it('finds a deleted leaf rule, a flushed service chain and a deleted hook', async () => {
      const saved = await network.inNode(`${iptables}-save`, '-t', 'nat');
      const leafRule = /^-A (KPLANE-IPS-\d+) (-d 10\.96\.0\.1\/32 -p tcp -m tcp --dport 80 -j (KPLANE-SVC-\w+))$/m.exec(saved)!;
      await network.inNode(iptables, '-t', 'nat', '-D', leafRule[1]!, ...leafRule[2]!.split(' '));
      const serviceChain = /^-A (KPLANE-SVC-\w+) .*-d 10\.96\.37\.12\/32/m.exec(saved)![1]!;
      await network.inNode(iptables, '-t', 'nat', '-F', serviceChain);
      await network.inNode(iptables, '-t', 'nat', '-D', 'OUTPUT', '-m', 'comment', '--comment', 'kplane service portals', '-j', 'KPLANE-SERVICES');
      const drift = await planDiff(range(0, 42));
      expect(drift).toContain(`${iptables} nat KPLANE-IPS: the kernel's tree lacks "${leafRule[2]}"`);
      expect(drift).toContainEqual(expect.stringMatching(new RegExp(`^${iptables} nat ${serviceChain}: 0 rules in the kernel, \\d+ written$`)));
      expect(drift).toContain(`${iptables} nat OUTPUT: 0 hooks to KPLANE-SERVICES, the plan has 1`);
      expect(drift).toHaveLength(3);
    });
  });
}
