import { DEFAULT_CONFIG, createLogger, createProxy, type IPFamily, type SourceEvent } from '@kplane/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import plugin, { type IptablesBackend } from '../src/index.js';
import { TestNetwork } from './support/netns.js';

const SERVER = { 4: '10.250.2.2', 6: 'fd00:250:2::2' } as const;

function endpoints(name: string, family: IPFamily, ports: readonly number[] = [8080]): SourceEvent[] {
  return ports.map((port) => upsert(endpointSliceObject(name, {
    name: `${name}-${family}-${port}`,
    addressType: family === 4 ? 'IPv4' : 'IPv6',
    ports: [{ name: 'http', port }],
    endpoints: [{ ip: SERVER[family], nodeName: 'node-a' }],
  })));
}

/**
 * `web` on both families, `sticky` (session affinity over two endpoints: recent, statistic), and
 * 300 more, so web's VIP sits in a leaf of a tree of leaves of 4 among about 100 tree chains and
 * 600 service chains: too many to read every period, so drift deep in them must be seen (nft
 * monitor in iptables-nft mode; legacy mode reads whole tables every audit).
 */
const WORLD: SourceEvent[] = [
  upsert(serviceObject('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'], ports: [{ name: 'http', port: 80 }] })),
  ...endpoints('web', 4), ...endpoints('web', 6),
  upsert(serviceObject('sticky', { clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80 }], affinitySeconds: 600 })),
  ...endpoints('sticky', 4, [8080, 9090]),
  ...Array.from({ length: 300 }, (_, index) => [
    upsert(serviceObject(`s${index}`, { clusterIPs: [`10.97.${index >> 8}.${index & 255}`], ports: [{ name: 'http', port: 80 }] })),
    ...endpoints(`s${index}`, 4, [9090]),
  ]).flat(),
];

/** kplane's answer for traffic to web, and how long after `since` it came (ms). */
async function answeredWithin(network: TestNetwork, host: string, since: number, limitMs: number): Promise<number> {
  for (;;) {
    const answer = await network.connect(host, 80, 500);
    if (answer.startsWith('answered')) return Date.now() - since;
    if (Date.now() - since > limitMs) throw new Error(`no answer from ${host} within ${limitMs} ms (last: ${answer})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

for (const mode of ['nft', 'legacy'] as const) {
  describe(`iptables drift is repaired in the kernel (iptables-${mode}, default audit period)`, () => {
    let network: TestNetwork;
    const iptables = (family: IPFamily = 4) => `ip${family === 4 ? '' : '6'}tables-${mode}`;

    beforeAll(async () => {
      network = await TestNetwork.create();
    });

    afterAll(async () => {
      await network?.destroy();
    });

    it('after `iptables -t nat -F KPLANE-IPS`, a leaf rule deleted and web\'s service chain flushed from outside, web answers again within 10 s each time; foreign rules stay', async () => {
      // Someone else's chains and rules in the same tables.
      await network.inNode(iptables(), '-t', 'nat', '-N', 'OTHER');
      await network.inNode(iptables(), '-t', 'nat', '-A', 'OTHER', '-d', '192.0.2.1/32', '-j', 'RETURN');
      await network.inNode(iptables(), '-t', 'nat', '-A', 'POSTROUTING', '-o', 'lo', '-j', 'OTHER');
      await network.inNode(iptables(), '-t', 'filter', '-N', 'OTHER-FILTER');
      await network.inNode(iptables(), '-t', 'filter', '-A', 'OTHER-FILTER', '-s', '192.0.2.1/32', '-j', 'RETURN');
      await network.inNode(iptables(), '-t', 'filter', '-A', 'FORWARD', '-j', 'OTHER-FILTER');
      const foreign = async () => (await network.inNode(`${iptables()}-save`)).split('\n').filter((line) => line.includes('OTHER'));
      const foreignBefore = await foreign();

      const config = {
        ...DEFAULT_CONFIG,
        nodeName: 'node-a',
        clusterCIDRs: ['10.250.1.0/24', 'fd00:250:1::/64'],
        backendOptions: new Map([['mode', mode], ['leaf-size', '4']]),
      };
      const { engine, backend } = createProxy({ config, executor: network.executor, logger: createLogger(process.env.KPLANE_LOG ?? 'silent') }, plugin);
      const proxy = backend as IptablesBackend;
      await proxy.init();
      engine.handle(WORLD);
      engine.start();
      try {
        await answeredWithin(network, '10.96.0.10', Date.now(), 10_000);
        expect(await network.connect('fd00:96::10', 80)).toBe('answered fd00:250:1::2 8080');
        expect(await network.connect('10.96.0.20', 80)).toMatch(/^answered 10\.250\.1\.2 (8080|9090)$/);
        // The real kernel's listing compares equal to what was written: no drift, so no full sync every period.
        expect(await proxy.audit()).toEqual([]);

        // Every Service black-holed: traffic falls through to the node's default route.
        let tampered = Date.now();
        await network.inNode(iptables(), '-t', 'nat', '-F', 'KPLANE-IPS');
        expect(await network.connect('10.96.0.10', 80, 500)).not.toMatch(/^answered/);
        const afterFlush = await answeredWithin(network, '10.96.0.10', tampered, 10_000);

        // web's rule in its leaf chain deleted: its VIP is rejected (the leaf's "unknown port" rule).
        const model = proxy.tables(4)!;
        const leaf = [...model.chainNames('nat')].find((chain) => /^KPLANE-IPS-\d+$/.test(chain)
          && model.rules('nat', chain)!.some((rule) => rule.startsWith('-d 10.96.0.10/32 -p tcp')))!;
        const rule = model.rules('nat', leaf)!.find((rule) => rule.startsWith('-d 10.96.0.10/32 -p tcp'))!;
        tampered = Date.now();
        await network.inNode(iptables(), '-t', 'nat', '-D', leaf, ...rule.split(' '));
        expect(await network.connect('10.96.0.10', 80, 500)).toBe('ECONNREFUSED');
        const afterDelete = await answeredWithin(network, '10.96.0.10', tampered, 10_000);

        // web's service chain flushed: its VIP matches, then nothing picks an endpoint.
        const repaired = proxy.tables(4)!;
        const leafNow = [...repaired.chainNames('nat')].find((chain) => /^KPLANE-IPS-\d+$/.test(chain)
          && repaired.rules('nat', chain)!.some((rule) => rule.startsWith('-d 10.96.0.10/32 -p tcp')))!;
        const serviceChain = /-j (KPLANE-\S+)$/.exec(repaired.rules('nat', leafNow)!.find((rule) => rule.startsWith('-d 10.96.0.10/32 -p tcp'))!)![1]!;
        tampered = Date.now();
        await network.inNode(iptables(), '-t', 'nat', '-F', serviceChain);
        expect(await network.connect('10.96.0.10', 80, 500)).not.toMatch(/^answered/);
        const afterServiceFlush = await answeredWithin(network, '10.96.0.10', tampered, 10_000);
        process.stderr.write(`iptables-${mode}: answered again ${afterFlush} ms after the flush, ${afterDelete} ms after the rule deletion, ${afterServiceFlush} ms after ${serviceChain} was flushed\n`);

        expect(await proxy.audit()).toEqual([]);
        expect(await foreign()).toEqual(foreignBefore);
      } finally {
        await engine.stop();
      }
    });
  });
}
