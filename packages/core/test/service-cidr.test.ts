import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addProxyOptions, resolveProxyOptions } from '../src/cli/proxy-options.js';
import { createLogger, parseManifests } from '../src/index.js';
import { ChangeTracker } from '../src/tracker/change-tracker.js';
import { validateServiceCIDR } from '../src/validation/service-cidr.js';
import { remove, upsert } from '../src/testing/index.js';
import { engineHarness, web } from './support/engine-harness.js';

function serviceCIDR(name: string, cidrs: unknown): Record<string, unknown> {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name }, spec: { cidrs } };
}

function valid(name: string, cidrs: string[]) {
  const result = validateServiceCIDR(serviceCIDR(name, cidrs));
  if (!result.ok) throw result.error;
  return result.value;
}

describe('ServiceCIDR validation (networking/validation ValidateServiceCIDR)', () => {
  it('accepts one CIDR, or one of each family, in canonical form', () => {
    expect(valid('kubernetes', ['10.96.0.0/12'])).toEqual({ name: 'kubernetes', cidrs: ['10.96.0.0/12'] });
    expect(valid('dual', ['10.96.0.0/12', 'FD00:10:96:0:0::/108'])).toEqual({ name: 'dual', cidrs: ['10.96.0.0/12', 'fd00:10:96::/108'] });
  });

  it.each([
    [[], 'spec.cidrs: at least one CIDR required'],
    [['10.96.0.0/12', 'fd00::/108', '10.200.0.0/16'], 'spec.cidrs: may only hold up to 2 values'],
    [['10.96.0.0/12', '10.200.0.0/16'], 'spec.cidrs: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64'],
    [['10.96.0.0/33'], 'spec.cidrs[0]: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64), not "10.96.0.0/33"'],
    [['10.96.0.0/12 } accept'], 'spec.cidrs[0]: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64), not "10.96.0.0/12 } accept"'],
  ])('refuses %j', (cidrs, message) => {
    const result = validateServiceCIDR(serviceCIDR('bad', cidrs));
    expect(result.ok ? 'accepted' : result.error.message).toBe(`ServiceCIDR bad: ${message}`);
  });

  it('refuses an object without spec.cidrs and a name that is not a DNS subdomain', () => {
    const missing = validateServiceCIDR({ kind: 'ServiceCIDR', metadata: { name: 'empty' } });
    expect(missing.ok ? 'accepted' : missing.error.message).toBe('ServiceCIDR empty: spec.cidrs: at least one CIDR required');
    const badName = validateServiceCIDR(serviceCIDR('Bad Name', ['10.96.0.0/12']));
    expect(badName.ok ? 'accepted' : badName.error.field).toBe('metadata.name');
  });
});

describe('--service-cidr', () => {
  const resolve = (args: string[]) => resolveProxyOptions(addProxyOptions(new Command('run')).exitOverride().parse(args, { from: 'user' }), createLogger('silent'));

  it('takes comma-separated CIDRs of both families, canonical, and refuses an invalid one', () => {
    expect(resolve(['--service-cidr', '10.96.0.1/12, FD00:10:96::/108']).config.serviceCIDRs).toEqual(['10.96.0.0/12', 'fd00:10:96::/108']);
    expect(resolve([]).config.serviceCIDRs).toEqual([]);
    expect(() => resolve(['--service-cidr', '10.96.0.0'])).toThrow('--service-cidr 10.96.0.0: invalid');
  });
});

describe('ServiceCIDR in manifests', () => {
  it('reads ServiceCIDRs as cluster-scoped objects (the ref is the name)', () => {
    const objects = parseManifests([
      'apiVersion: networking.k8s.io/v1', 'kind: ServiceCIDR', 'metadata: { name: kubernetes }', 'spec: { cidrs: [10.96.0.0/12] }',
    ].join('\n'));
    expect([...objects.values()].map((entry) => [entry.kind, entry.ref])).toEqual([['ServiceCIDR', 'kubernetes']]);
  });
});

describe('ChangeTracker service CIDRs', () => {
  it('merges the configured CIDRs with every object\'s, keeping a range while any object lists it', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null }, ['10.96.0.0/12']);
    expect(tracker.serviceCIDRs).toEqual(['10.96.0.0/12']);
    tracker.upsertServiceCIDR(valid('kubernetes', ['10.96.0.0/12', 'fd00:10:96::/108']));
    tracker.upsertServiceCIDR(valid('extra', ['10.200.0.0/16']));
    tracker.upsertServiceCIDR(valid('inside', ['10.96.5.0/24']));
    expect(tracker.hasPending).toBe(true);
    tracker.take();
    expect(tracker.serviceCIDRs).toEqual(['10.200.0.0/16', '10.96.0.0/12', 'fd00:10:96::/108']);
    tracker.upsertServiceCIDR(valid('again', ['fd00:10:96::/108']));
    tracker.deleteServiceCIDR('kubernetes');
    expect(tracker.hasPending).toBe(false);
    tracker.deleteServiceCIDR('again');
    tracker.take();
    expect(tracker.serviceCIDRs).toEqual(['10.200.0.0/16', '10.96.0.0/12']);
  });

  it('hands a change of the CIDRs out on the next take, and a change that returns to the last state is none', () => {
    const tracker = new ChangeTracker({ name: 'node-a', zone: null });
    tracker.upsertServiceCIDR(valid('kubernetes', ['10.96.0.0/12']));
    expect(tracker.serviceCIDRs).toEqual([]);
    tracker.take();
    expect(tracker.serviceCIDRs).toEqual(['10.96.0.0/12']);
    tracker.deleteServiceCIDR('kubernetes');
    tracker.upsertServiceCIDR(valid('kubernetes', ['10.96.0.0/12']));
    expect(tracker.hasPending).toBe(false);
  });
});

describe('Engine service CIDRs', () => {
  it('gives the backend --service-cidr and the ServiceCIDR objects, and syncs when they change', async () => {
    const { clock, backend, engine } = engineHarness({ serviceCIDRs: ['fd00:10:96::/108'] });
    engine.handle([web()]);
    engine.start();
    await clock.advance(0);
    expect(backend.syncs.at(-1)!.serviceCIDRs).toEqual(['fd00:10:96::/108']);

    await clock.advance(5000);
    engine.handle([upsert(serviceCIDR('kubernetes', ['10.96.0.0/12']))]);
    await clock.advance(0);
    expect(backend.syncs).toHaveLength(2);
    expect(backend.syncs[1]).toMatchObject({ full: false, changed: [], serviceCIDRs: ['10.96.0.0/12', 'fd00:10:96::/108'] });

    await clock.advance(5000);
    engine.handle([remove('ServiceCIDR', 'kubernetes')]);
    await clock.advance(0);
    expect(backend.syncs[2]).toMatchObject({ full: false, serviceCIDRs: ['fd00:10:96::/108'] });
  });

  it('refuses an invalid ServiceCIDR and keeps the CIDRs it had', async () => {
    const { clock, backend, engine, metrics } = engineHarness();
    engine.handle([upsert(serviceCIDR('kubernetes', ['10.96.0.0/12']))]);
    engine.start();
    await clock.advance(5000);
    engine.handle([upsert(serviceCIDR('kubernetes', ['10.96.0.0/99']))]);
    await clock.advance(5000);
    expect(backend.syncs.map((sync) => sync.serviceCIDRs)).toEqual([['10.96.0.0/12']]);
    const rejected = await metrics.rejectedObjects.get();
    expect(rejected.values.find((value) => value.labels.kind === 'ServiceCIDR')?.value).toBe(1);
  });
});
