import { IPTABLES_TABLES, type IPFamily, type SourceEvent } from '@kplane/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpointSliceObject, remove, serviceObject, upsert } from '@kplane/core/testing';
import { parseSave } from '../src/client/save-audit.js';
import { tokenize } from '../src/client/rule-text.js';
import type { IptablesBackend } from '../src/index.js';
import { kernelHarness } from './support/harness.js';
import { TestNetwork } from './support/netns.js';

const SERVER = { 4: '10.250.2.2', 6: 'fd00:250:2::2' } as const;

function service(name: string, clusterIPs: string[], ports = [{ name: 'http', port: 80 }]): SourceEvent {
  return upsert(serviceObject(name, { clusterIPs, ports }));
}

function endpoints(name: string, family: IPFamily, port = 8080): SourceEvent {
  return upsert(endpointSliceObject(name, {
    name: `${name}-${family}`,
    addressType: family === 4 ? 'IPv4' : 'IPv6',
    ports: [{ name: 'http', port }],
    endpoints: [{ ip: SERVER[family], nodeName: 'node-a' }],
  }));
}

/** Sixty services on 10.96.0.0/16 (a tree three levels deep with leaves of 4), each on the test server. */
const MANY = Array.from({ length: 60 }, (_, index) => `10.96.${(index * 37) % 256}.${(index * 11) % 250 + 1}`);

for (const mode of ['nft', 'legacy'] as const) {
  for (const layout of ['tree', 'flat'] as const) {
    describe(`iptables backend in the kernel (iptables-${mode}, ${layout})`, () => {
      let network: TestNetwork;

      beforeAll(async () => {
        network = await TestNetwork.create();
      });

      afterAll(async () => {
        await network?.destroy();
      });

      it('loads real rules that match its model, carries TCP through the VIPs (IPv4 and IPv6), follows changes, and cleans up only its own', async () => {
        // Someone else's rules, which kplane must leave alone.
        for (const family of [4, 6] as const) {
          await network.inNode(`ip${family === 4 ? '' : '6'}tables-${mode}`, '-t', 'nat', '-N', 'OTHER');
          await network.inNode(`ip${family === 4 ? '' : '6'}tables-${mode}`, '-t', 'nat', '-A', 'POSTROUTING', '-o', 'lo', '-j', 'OTHER');
        }
        const test = kernelHarness({ mode, layout, 'leaf-size': '4' }, { clusterCIDRs: ['10.250.1.0/24', 'fd00:250:1::/64'] }, network.executor);
        await test.start([
          service('web', ['10.96.0.10', 'fd00:96::10']), endpoints('web', 4), endpoints('web', 6),
          ...MANY.flatMap((ip, index) => [service(`s${index}`, [ip]), endpoints(`s${index}`, 4, 9090)]),
          service('nobody', ['10.96.0.11']),
        ]);
        expect(test.backend.mode).toBe(mode);
        if (layout === 'tree') expect(test.backend.tables(4)!.addresses.depth()).toBeGreaterThan(2);

        for (const family of [4, 6] as const) await expectKernelMatchesModel(network, test.backend, mode, family);

        expect(await network.connect('10.96.0.10', 80)).toBe('answered 10.250.1.2 8080');
        expect(await network.connect('fd00:96::10', 80)).toBe('answered fd00:250:1::2 8080');
        for (const ip of [MANY[0]!, MANY[59]!]) expect(await network.connect(ip, 80)).toBe('answered 10.250.1.2 9090');
        expect(await network.connect('10.96.0.10', 81)).toBe('ECONNREFUSED');
        expect(await network.connect('10.96.0.11', 80)).toBe('ECONNREFUSED');

        // A partial sync: a new service, and one gone.
        await test.change([service('late', ['10.96.77.7']), endpoints('late', 4), remove('Service', 'default/s3')]);
        expect(await network.connect('10.96.77.7', 80)).toBe('answered 10.250.1.2 8080');
        expect(await network.connect(MANY[3]!, 80, 1000)).not.toMatch(/^answered/);
        for (const family of [4, 6] as const) await expectKernelMatchesModel(network, test.backend, mode, family);

        await test.backend.cleanup();
        for (const family of [4, 6] as const) {
          const saved = await network.inNode(`ip${family === 4 ? '' : '6'}tables-${mode}-save`);
          expect(saved).not.toContain('KPLANE-');
          expect(saved).toContain('-A POSTROUTING -o lo -j OTHER');
        }
      });
    });
  }
}

/** Reads the kernel back: exactly kplane's chains, each with as many rules as the model says, and each hook once. */
async function expectKernelMatchesModel(network: TestNetwork, backend: IptablesBackend, mode: string, family: IPFamily): Promise<void> {
  const saved = await network.inNode(`ip${family === 4 ? '' : '6'}tables-${mode}-save`);
  const audit = parseSave(saved);
  for (const table of IPTABLES_TABLES) {
    const model = backend.tables(family)!.writtenChains(table);
    expect([...(audit.chains.get(table) ?? [])].sort()).toEqual([...model.keys()].sort());
    const counts = new Map<string, number>();
    let section = '';
    for (const line of saved.split('\n')) {
      if (line.startsWith('*')) section = line.slice(1);
      if (section === table && line.startsWith('-A KPLANE-')) counts.set(tokenize(line)[1]!, (counts.get(tokenize(line)[1]!) ?? 0) + 1);
    }
    for (const [chain, rules] of model) expect([chain, counts.get(chain) ?? 0]).toEqual([chain, rules.length]);
  }
  expect(audit.hooks.map((hook) => `${hook.table} ${hook.chain} ${hook.target}`).sort()).toEqual([
    'filter FORWARD KPLANE-FILTER', 'filter INPUT KPLANE-FILTER', 'filter OUTPUT KPLANE-FILTER',
    'nat OUTPUT KPLANE-SERVICES', 'nat POSTROUTING KPLANE-POSTROUTING', 'nat PREROUTING KPLANE-SERVICES',
  ]);
}
