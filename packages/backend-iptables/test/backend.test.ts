import { describe, expect, it } from 'vitest';
import { ContainerModule, TOKENS, ToolError, type SourceEvent } from '@kplane/core';
import { FakeExecutor, endpointSliceObject, remove, renderBatches, serviceObject, testProxy, upsert } from '@kplane/core/testing';
import plugin, { FakeIptablesClient, IPTABLES_CLIENT, IptablesBackend } from '../src/index.js';
import { parseSave } from '../src/client/save-audit.js';
import { harness } from './support/harness.js';

function service(name: string, ip: string): SourceEvent {
  return upsert(serviceObject(name, { clusterIPs: [ip], ports: [{ name: 'http', port: 80 }] }));
}

function endpoints(name: string, ips: readonly string[], extra: { nodeName?: string; ready?: boolean } = {}): SourceEvent {
  return upsert(endpointSliceObject(name, {
    ports: [{ name: 'http', port: 8080 }],
    endpoints: ips.map((ip) => ({ ip, nodeName: extra.nodeName ?? 'node-a', ready: extra.ready ?? true })),
  }));
}


const WORLD = [service('a', '10.96.0.1'), endpoints('a', ['10.244.0.1']), service('b', '10.96.0.2'), endpoints('b', ['10.244.0.2'])];

const FEATURES_WORLD = [
  upsert(serviceObject('lb', {
    type: 'LoadBalancer', clusterIPs: ['10.96.1.1', 'fd00:96::1'], externalIPs: ['192.0.2.10'], loadBalancerIPs: ['198.51.100.10', '2001:db8::10'],
    loadBalancerSourceRanges: ['192.168.50.0/24', '2001:db8:50::/48'], externalTrafficPolicy: 'Local', healthCheckNodePort: 32000,
    ports: [{ name: 'http', port: 80, nodePort: 30080 }],
  })),
  upsert(endpointSliceObject('lb', { name: 'lb-4', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: '10.244.0.1', nodeName: 'node-a' }, { ip: '10.244.9.1', nodeName: 'node-b' }] })),
  upsert(endpointSliceObject('lb', { name: 'lb-6', ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: 'fd00:10:244::1', nodeName: 'node-b' }] })),
  upsert(serviceObject('sticky', { clusterIPs: ['10.96.1.2'], affinitySeconds: 600, internalTrafficPolicy: 'Local', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] })),
  upsert(endpointSliceObject('sticky', { ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }], endpoints: [{ ip: '10.244.0.3', nodeName: 'node-a' }, { ip: '10.244.0.4', nodeName: 'node-a' }, { ip: '10.244.9.3', nodeName: 'node-b' }] })),
  upsert(serviceObject('signal', { type: 'NodePort', clusterIPs: ['10.96.1.3'], ports: [{ name: 'sctp', port: 3868, protocol: 'SCTP', nodePort: 31868 }] })),
];

/** Every chain of kplane's in one table of the fake, to compare with the model. */
function ownChains(client: FakeIptablesClient, table: 'nat' | 'filter', family: 4 | 6 = 4): Map<string, string[]> {
  return new Map([...client.chains('nft', family, table)].filter(([chain]) => chain.startsWith('KPLANE-')));
}

describe('iptables backend', () => {
  it('writes every Service feature the nft backend has (golden)', async () => {
    const test = harness({}, { nodeIPs: ['192.168.50.1'], nodePortAddresses: ['192.168.50.0/24'] });
    await expect(renderBatches(await test.start(FEATURES_WORLD))).toMatchFileSnapshot('golden/full-features.txt');
  });

  it('kplane plan (the plugin\'s own client on a dry run) prints the same restores, both families', async () => {
    const plan = testProxy(plugin, { config: { clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'], nodeIPs: ['192.168.50.1'], nodePortAddresses: ['192.168.50.0/24'] } });
    await expect(renderBatches(await plan.start(FEATURES_WORLD))).toMatchFileSnapshot('golden/full-features.txt');
  });

  it('writes only IPv4 on a kernel without IPv6 (/proc/net/if_inet6 unreadable, asked through the executor)', async () => {
    const executor = new FakeExecutor({ 'iptables-nft-restore --version': 'iptables-nft-restore v1.8.9 (nf_tables)' })
      .answer('cat /proc/net/if_inet6', () => {
        throw new ToolError('cat', 1, 'cat: /proc/net/if_inet6: No such file or directory');
      });
    const client = new FakeIptablesClient();
    const test = testProxy(new ContainerModule(({ bind }) => {
      bind(IPTABLES_CLIENT).toConstantValue(client);
      bind(TOKENS.Backend).to(IptablesBackend).inSingletonScope();
    }), { config: { backendOptions: new Map([['mode', 'nft']]) }, executor });
    await test.start(WORLD);
    expect(executor.reads).toContain('cat /proc/net/if_inet6');
    expect((test.backend as IptablesBackend).tables(6)).toBeUndefined();
    expect(client.restores.map(({ family }) => family)).toEqual([4]);
  });

  it('sends one restore per family per sync, and reads the kernel only before full syncs', async () => {
    const test = harness();
    const first = await test.start(WORLD);
    expect(first.map((batch) => `${batch.tool} ${batch.args.join(' ')}`)).toEqual(['iptables-nft-restore -w 5 --noflush', 'ip6tables-nft-restore -w 5 --noflush']);
    const reads = test.client.saves.length;
    const partial = await test.change([endpoints('a', ['10.244.0.1', '10.244.0.3']), service('c', '10.96.0.3'), remove('Service', 'default/b')]);
    expect(partial.map((batch) => batch.tool)).toEqual(['iptables-nft-restore']);
    expect(test.client.saves.length).toBe(reads);
  });

  it('keeps the kernel equal to its model through partial syncs', async () => {
    const test = harness({ 'leaf-size': '4' });
    await test.start(WORLD);
    for (let index = 0; index < 30; index++) {
      await test.change([service(`s${index}`, `10.96.${index % 4}.${100 + index}`), endpoints(`s${index}`, [`10.244.1.${index}`])]);
      if (index % 3 === 0) await test.change([remove('Service', `default/s${index}`)]);
    }
    for (const table of ['nat', 'filter'] as const) expect(ownChains(test.client, table)).toEqual(test.backend.tables(4)!.writtenChains(table));
  });

  it('a new agent on the same kernel rewrites its chains, deletes the ones it no longer needs, and keeps one of each hook', async () => {
    const fake = new FakeIptablesClient();
    const first = harness({}, {}, fake);
    await first.start(WORLD);
    fake.command('nft', 4, ['-t', 'nat', '-N', 'OTHER']);
    fake.command('nft', 4, ['-t', 'nat', '-A', 'PREROUTING', '-j', 'OTHER']);
    // A hook twice (a crash between two restores of an older version, say).
    fake.command('nft', 4, ['-t', 'nat', '-I', 'OUTPUT', '-m', 'comment', '--comment', 'kplane service portals', '-j', 'KPLANE-SERVICES']);

    const second = harness({}, {}, fake);
    await second.start([service('a', '10.96.0.1'), endpoints('a', ['10.244.0.1'])]);
    const audit = parseSave(fake.dump('nft', 4));
    expect(audit.hooks.map((hook) => `${hook.table} ${hook.chain} ${hook.target}`).sort()).toEqual([
      'filter FORWARD KPLANE-FILTER', 'filter INPUT KPLANE-FILTER', 'filter OUTPUT KPLANE-FILTER',
      'nat OUTPUT KPLANE-SERVICES', 'nat POSTROUTING KPLANE-POSTROUTING', 'nat PREROUTING KPLANE-SERVICES',
    ]);
    expect([...audit.chains.get('nat')!].sort()).toEqual([...second.backend.tables(4)!.writtenChains('nat').keys()].sort());
    expect(fake.chains('nft', 4, 'nat').get('PREROUTING')).toContain('-j OTHER');
    expect(fake.chains('nft', 4, 'nat').has('OTHER')).toBe(true);
  });

  it('cleanup removes exactly its chains and hooks, in both variants and families, and nothing of others; the next sync is full', async () => {
    const fake = new FakeIptablesClient();
    await harness({ mode: 'legacy' }, {}, fake).start(WORLD);
    const test = harness({ mode: 'nft' }, {}, fake);
    await test.start(WORLD);
    fake.command('nft', 4, ['-t', 'nat', '-N', 'OTHER']);
    fake.command('nft', 4, ['-t', 'nat', '-A', 'PREROUTING', '-j', 'OTHER']);
    await test.backend.cleanup();
    for (const mode of ['nft', 'legacy'] as const) {
      for (const family of [4, 6] as const) expect(fake.dump(mode, family)).not.toContain('KPLANE-');
    }
    expect(fake.chains('nft', 4, 'nat').get('PREROUTING')).toEqual(['-j OTHER']);
    // The engine asks for a partial sync; the backend knows its model is empty and rewrites everything.
    await test.change([service('c', '10.96.0.3')]);
    for (const table of ['nat', 'filter'] as const) expect(ownChains(fake, table)).toEqual(test.backend.tables(4)!.writtenChains(table));
    expect(fake.chains('nft', 4, 'nat').get('PREROUTING')).toContain('-m comment --comment "kplane service portals" -j KPLANE-SERVICES');
  });

  it('drops, rather than rejects, a frontend whose endpoints are all elsewhere (Local policy)', async () => {
    const test = harness();
    await test.start([
      upsert(serviceObject('local', { clusterIPs: ['10.96.0.5'], internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80 }] })),
      endpoints('local', ['10.244.9.1'], { nodeName: 'node-b' }),
    ]);
    expect(test.client.chains('nft', 4, 'nat').get(`KPLANE-SVC-${[...test.engine.desiredState.values()][0]!.servicePort.id}`)).toEqual(['-j KPLANE-DROP']);
  });

  it('detects the iptables variant like kube-proxy: kubelet\'s hint chain first, then the variant with more rules', async () => {
    const detect = async (setup: (fake: FakeIptablesClient) => void): Promise<string> => {
      const fake = new FakeIptablesClient();
      setup(fake);
      const test = harness({ mode: 'auto' }, {}, fake);
      await test.backend.init();
      return test.backend.mode;
    };
    const rules = (mode: 'nft' | 'legacy', count: number) => (fake: FakeIptablesClient) => {
      for (let index = 0; index < count; index++) fake.command(mode, 4, ['-A', 'INPUT', '-s', `10.0.0.${index}`, '-j', 'ACCEPT']);
    };
    expect(await detect(() => {})).toBe('nft');
    expect(await detect(rules('legacy', 3))).toBe('legacy');
    expect(await detect((fake) => {
      rules('legacy', 3)(fake);
      fake.command('nft', 4, ['-t', 'mangle', '-N', 'KUBE-IPTABLES-HINT']);
    })).toBe('nft');
    expect(await new FakeIptablesClient().save('nft', 4, 'mangle')).toBe('');
  });

  it('refuses options it does not know, and mark bits that collide', () => {
    const make = (options: Record<string, string>) => () => harness(options);
    expect(make({ layout: 'bushy' })).toThrow('--backend-opt layout=bushy: expected one of tree, flat');
    expect(make({ mode: 'ebpf' })).toThrow('expected one of auto, nft, legacy');
    expect(make({ 'leaf-size': '1' })).toThrow('expected an integer 4..4096');
    expect(make({ 'drop-bit': '14' })).toThrow('must be three different bits');
  });
});
