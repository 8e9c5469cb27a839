import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, DryRunExecutor, ToolError, createLogger, createProxy, type Batch, type SourceEvent } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import plugin, { FakeIptables, type IptablesBackend } from '../src/index.js';
import { parseSave } from '../src/iptables/audit.js';
import { restoreBatch, saveQuery } from '../src/iptables/tools.js';
import { FamilyTables } from '../src/plan/family-tables.js';
import { serviceChain } from '../src/plan/names.js';
import { trace } from './support/trace.js';
import { harness, remove, upsert } from './support/harness.js';

function service(name: string, ip: string): SourceEvent {
  return upsert(serviceObject(name, { clusterIPs: [ip], ports: [{ name: 'http', port: 80 }] }));
}

function endpoints(name: string, ips: readonly string[], extra: { nodeName?: string; ready?: boolean } = {}): SourceEvent {
  return upsert(endpointSliceObject(name, {
    ports: [{ name: 'http', port: 8080 }],
    endpoints: ips.map((ip) => ({ ip, nodeName: extra.nodeName ?? 'node-a', ready: extra.ready ?? true })),
  }));
}

function render(batches: readonly Batch[]): string {
  const printer = new DryRunExecutor();
  printer.batches.push(...batches);
  return printer.render();
}

/** A Fake whose next `failures` restores fail, as a busy or broken kernel would. */
class FlakyIptables extends FakeIptables {
  failures = 0;

  override async apply(batch: Batch): Promise<void> {
    if (this.failures > 0 && batch.tool.endsWith('-restore')) {
      this.failures--;
      throw new ToolError(batch.tool, 4, 'Resource temporarily unavailable');
    }
    await super.apply(batch);
  }
}

const WORLD = [service('a', '10.96.0.1'), endpoints('a', ['10.244.0.1']), service('b', '10.96.0.2'), endpoints('b', ['10.244.0.2'])];

describe('iptables backend', () => {
  it('writes every Service feature the nft backend has (golden)', async () => {
    const test = harness({}, { nodeIPs: ['192.168.50.1'], nodePortAddresses: ['192.168.50.0/24'] });
    const batches = await test.start([
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
    ]);
    await expect(render(batches)).toMatchFileSnapshot('golden/full-features.txt');
  });

  it('sends one restore per family per sync, and reads the kernel only before full syncs', async () => {
    const test = harness();
    const first = await test.start(WORLD);
    expect(first.map((batch) => `${batch.tool} ${batch.args.join(' ')}`)).toEqual(['iptables-nft-restore -w 5 --noflush', 'ip6tables-nft-restore -w 5 --noflush']);
    const reads = test.executor.queries.length;
    const partial = await test.change([endpoints('a', ['10.244.0.1', '10.244.0.3']), service('c', '10.96.0.3'), remove('Service', 'b')]);
    expect(partial.map((batch) => batch.tool)).toEqual(['iptables-nft-restore']);
    expect(test.executor.queries.length).toBe(reads);
  });

  it('keeps the kernel equal to its model through partial syncs', async () => {
    const test = harness({ 'leaf-size': '4' });
    await test.start(WORLD);
    for (let index = 0; index < 30; index++) {
      await test.change([service(`s${index}`, `10.96.${index % 4}.${100 + index}`), endpoints(`s${index}`, [`10.244.1.${index}`])]);
      if (index % 3 === 0) await test.change([remove('Service', `s${index}`)]);
    }
    for (const table of ['nat', 'filter'] as const) {
      const kernel = new Map([...test.executor.chains('nft', 4, table)].filter(([chain]) => chain.startsWith('KPLANE-')));
      expect(kernel).toEqual(test.backend.tables(4)!.writtenChains(table));
    }
  });

  it('a new agent on the same kernel rewrites its chains, deletes the ones it no longer needs, and keeps one of each hook', async () => {
    const fake = new FakeIptables();
    const first = harness({}, {}, fake);
    await first.start(WORLD);
    await fake.apply({ tool: 'iptables-nft', args: ['-t', 'nat', '-N', 'OTHER'], input: '' });
    await fake.apply({ tool: 'iptables-nft', args: ['-t', 'nat', '-A', 'PREROUTING', '-j', 'OTHER'], input: '' });
    // A hook twice (a crash between two restores of an older version, say).
    await fake.apply({ tool: 'iptables-nft', args: ['-t', 'nat', '-I', 'OUTPUT', '-m', 'comment', '--comment', 'kplane service portals', '-j', 'KPLANE-SERVICES'], input: '' });

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

  it('cleanup removes exactly its chains and hooks, in both variants and families, and nothing of others', async () => {
    const fake = new FakeIptables();
    await harness({ mode: 'legacy' }, {}, fake).start(WORLD);
    await harness({ mode: 'nft' }, {}, fake).start(WORLD);
    await fake.apply({ tool: 'iptables-nft', args: ['-t', 'nat', '-N', 'OTHER'], input: '' });
    await fake.apply({ tool: 'iptables-nft', args: ['-t', 'nat', '-A', 'PREROUTING', '-j', 'OTHER'], input: '' });
    await harness({}, {}, fake).backend.cleanup();
    for (const mode of ['nft', 'legacy'] as const) {
      for (const family of [4, 6] as const) expect(fake.dump(mode, family)).not.toContain('KPLANE-');
    }
    expect(fake.chains('nft', 4, 'nat').get('PREROUTING')).toEqual(['-j OTHER']);
  });

  it('after a failed restore the kernel keeps its rules, and the next sync audits and rewrites everything', async () => {
    const fake = new FlakyIptables();
    const test = harness({ 'leaf-size': '4' }, {}, fake);
    await test.start(WORLD);
    const before = fake.dump('nft', 4);
    fake.failures = 1;
    await expect(test.change([service('c', '10.96.0.3')])).rejects.toThrow('the sync failed');
    expect(fake.dump('nft', 4)).toBe(before);
    const reads = fake.queries.length;
    const retry = await test.change([]);
    expect(fake.queries.slice(reads).map((query) => query.tool)).toContain('iptables-nft-save');
    expect(retry[0]!.input).toContain(':KPLANE-SERVICES - [0:0]');
    expect(fake.chains('nft', 4, 'nat').get('KPLANE-IPS')!.join('\n')).toContain('-d 10.96.0.3/32');
  });

  it('a full sync split into restores (iptables-nft) leaves a working ruleset after each one', async () => {
    const fake = new FakeIptables();
    const ip = (index: number) => `10.96.${index % 7}.${10 + index}`;
    const before = harness({ 'leaf-size': '4' }, {}, fake);
    await before.start(Array.from({ length: 40 }, (_, index) => [service(`s${index}`, ip(index)), endpoints(`s${index}`, [`10.244.0.${index}`])]).flat());
    // The next agent's world: some services gone, some new, some with other endpoints.
    const after = harness({ 'leaf-size': '4' });
    await after.start(Array.from({ length: 40 }, (_, index) => index + 10).flatMap((index) => [service(`s${index}`, ip(index)), endpoints(`s${index}`, [`10.244.1.${index}`])]));
    const state = after.engine.desiredState;
    const tables = new FamilyTables(after.backend.tables(4)!.settings);
    const plan = tables.planFull(state, parseSave(fake.dump('nft', 4)), 50);
    expect(plan.transactions.length).toBeGreaterThan(10);
    const kept = [...state.values()].filter((port) => before.engine.desiredState.get(port.servicePort.key));
    for (const transaction of plan.transactions) {
      await fake.apply(restoreBatch('nft', 4, transaction.toString()));
      for (const port of kept) {
        const reached = trace(fake.chains('nft', 4, 'nat'), { destination: port.servicePort.clusterIPs[0]!, protocol: 'tcp', port: 80 });
        expect(reached.verdict).toBe(serviceChain(port.servicePort));
      }
    }
    plan.commit();
    for (const table of ['nat', 'filter'] as const) {
      expect(new Map([...fake.chains('nft', 4, table)].filter(([chain]) => chain.startsWith('KPLANE-')))).toEqual(tables.writtenChains(table));
    }
    for (const port of state.values()) {
      expect(trace(fake.chains('nft', 4, 'nat'), { destination: port.servicePort.clusterIPs[0]!, protocol: 'tcp', port: 80 }).verdict).toBe(serviceChain(port.servicePort));
    }
  });

  it('drops, rather than rejects, a frontend whose endpoints are all elsewhere (Local policy)', async () => {
    const test = harness();
    await test.start([
      upsert(serviceObject('local', { clusterIPs: ['10.96.0.5'], internalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80 }] })),
      endpoints('local', ['10.244.9.1'], { nodeName: 'node-b' }),
    ]);
    expect(test.executor.chains('nft', 4, 'nat').get(`KPLANE-SVC-${[...test.engine.desiredState.values()][0]!.servicePort.id}`)).toEqual(['-j KPLANE-DROP']);
  });

  it('detects the iptables variant like kube-proxy: kubelet\'s hint chain first, then the variant with more rules', async () => {
    const detect = async (setup: (fake: FakeIptables) => Promise<void>): Promise<string> => {
      const fake = new FakeIptables();
      await setup(fake);
      const backend = createProxy({ config: DEFAULT_CONFIG, executor: fake, logger: createLogger('silent') }, plugin).backend as IptablesBackend;
      await backend.init();
      return backend.mode;
    };
    const rules = (mode: string, count: number) => async (fake: FakeIptables) => {
      for (let index = 0; index < count; index++) await fake.apply({ tool: `iptables-${mode}`, args: ['-A', 'INPUT', '-s', `10.0.0.${index}`, '-j', 'ACCEPT'], input: '' });
    };
    expect(await detect(async () => {})).toBe('nft');
    expect(await detect(rules('legacy', 3))).toBe('legacy');
    expect(await detect(async (fake) => {
      await rules('legacy', 3)(fake);
      await fake.apply({ tool: 'iptables-nft', args: ['-t', 'mangle', '-N', 'KUBE-IPTABLES-HINT'], input: '' });
    })).toBe('nft');
    expect(await new FakeIptables().read(saveQuery('nft', 4, 'mangle'))).toBe('');
  });

  it('refuses options it does not know, and mark bits that collide', () => {
    const make = (options: Record<string, string>) => () => harness(options);
    expect(make({ layout: 'bushy' })).toThrow('--backend-opt layout=bushy: expected one of tree, flat');
    expect(make({ mode: 'ebpf' })).toThrow('expected one of auto, nft, legacy');
    expect(make({ 'leaf-size': '1' })).toThrow('expected an integer 4..4096');
    expect(make({ 'drop-bit': '14' })).toThrow('must be three different bits');
  });
});
