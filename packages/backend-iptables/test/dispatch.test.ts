import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIP, type SourceEvent } from '@kplane/core';
import { endpointSliceObject, remove, serviceObject, upsert } from '@kplane/core/testing';
import { depthBound } from '../src/index.js';
import { addressKey } from '../src/planner/addresses.js';
import { endpointChain, serviceChain } from '../src/planner/names.js';
import { harness } from './support/harness.js';
import { trace } from './support/trace.js';

interface Spec {
  readonly ip: string;
  readonly port: 80 | 443;
}

const v4 = fc.oneof(
  fc.tuple(fc.constant(10), fc.integer({ min: 96, max: 111 }), fc.nat(255), fc.integer({ min: 1, max: 254 })),
  fc.tuple(fc.constant(10), fc.constant(96), fc.constant(0), fc.integer({ min: 1, max: 254 })),
  fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })),
).map((octets) => octets.join('.'));
const v6 = fc.oneof(
  fc.tuple(fc.nat(0xfff), fc.nat(0xffff)).map(([high, low]) => `fd00:10:96::${high.toString(16)}:${low.toString(16)}`),
  fc.tuple(fc.integer({ min: 0x2001, max: 0x2fff }), fc.nat(0xffff), fc.nat(0xffff)).map(([a, b, c]) => `${a.toString(16)}:${b.toString(16)}::${c.toString(16)}`),
).map((ip) => canonicalIP(ip)!);
const specs = (addresses: fc.Arbitrary<string>) =>
  fc.uniqueArray(fc.record({ ip: addresses, port: fc.constantFrom(80 as const, 443 as const) }), { selector: (spec) => spec.ip, minLength: 1, maxLength: 120 });

const key = (index: number) => `default/s${index}:http/TCP`;

function objects(index: number, spec: Spec, endpoint: string): SourceEvent[] {
  return [
    upsert(serviceObject(`s${index}`, { clusterIPs: [spec.ip], ports: [{ name: 'http', port: spec.port }] })),
    upsert(endpointSliceObject(`s${index}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: endpoint, nodeName: 'node-a' }] })),
  ];
}

const endpointOf = (index: number, family: 4 | 6) => canonicalIP(family === 4 ? `10.244.${index >> 8}.${index & 255}` : `fd00:10:244::${index.toString(16)}`)!;

/**
 * The whole path through the real rules (FakeIptablesClient applies the restores; the tracer walks them
 * like the kernel does): every service is reached through exactly one leaf rule, within the depth
 * bound, and a change that restructures nothing writes one path plus the changed port's chains.
 */
for (const family of [4, 6] as const) {
  describe(`tree dispatch over random IPv${family} service sets`, () => {
    it('reaches every destination through exactly one path, rejects unknown ports, and a single change rewrites one path', async () => {
      const change = fc.oneof(fc.constant('add' as const), fc.constant('remove' as const), fc.constant('endpoints' as const));
      await fc.assert(fc.asyncProperty(specs(family === 4 ? v4 : v6), fc.integer({ min: 4, max: 16 }), change, fc.nat(), async (services, leafSize, kind, pick) => {
        const test = harness({ 'leaf-size': String(leafSize) });
        await test.start(services.flatMap((spec, index) => objects(index, spec, endpointOf(index, family))));
        const tables = test.backend.tables(family)!;
        const chains = () => test.client.chains('nft', family, 'nat');
        const idOf = (index: number) => test.engine.desiredState.get(key(index))!.servicePort;
        const pathOf = (ip: string) => tables.addresses.path(addressKey(ip)).map((node) => node.chain);

        const checkAll = (live: ReadonlyMap<number, Spec>) => {
          const nat = chains();
          const leafRules = new Map<string, number>();
          for (const [chain, rules] of nat) {
            if (!chain.startsWith('KPLANE-IPS')) continue;
            for (const rule of rules) if (rule.includes('--dport')) leafRules.set(rule.split(' -j ')[0]!, (leafRules.get(rule.split(' -j ')[0]!) ?? 0) + 1);
          }
          const bound = depthBound(tables.addresses.size, leafSize);
          for (const [index, spec] of live) {
            const reached = trace(nat, { destination: spec.ip, protocol: 'tcp', port: spec.port });
            expect(reached.verdict).toBe(serviceChain(idOf(index)));
            expect(reached.entered.length - 1).toBeLessThanOrEqual(bound);
            expect(leafRules.get(`-d ${spec.ip}/${family === 4 ? 32 : 128} -p tcp -m tcp --dport ${spec.port}`)).toBe(1);
            expect(trace(nat, { destination: spec.ip, protocol: 'tcp', port: 8443 }).verdict).toBe('KPLANE-REJECT');
          }
          expect(tables.addresses.depth()).toBeLessThanOrEqual(bound);
        };

        const live = new Map(services.map((spec, index) => [index, spec]));
        checkAll(live);

        // One change.
        const index = kind === 'add' ? services.length : pick % services.length;
        const spec: Spec = kind === 'add' ? { ip: family === 4 ? '10.100.7.7' : 'fd00:10:96::abcd:ef', port: 80 } : services[index]!;
        if (kind === 'add' && services.some((known) => known.ip === spec.ip)) return;
        const before = kind === 'add' ? null : idOf(index);
        const pathBefore = pathOf(spec.ip);
        const restructures = tables.addresses.restructures;
        const events = kind === 'add'
          ? objects(index, spec, endpointOf(index, family))
          : kind === 'remove'
            ? [remove('Service', `default/s${index}`), remove('EndpointSlice', `default/s${index}-ipv${family}`)]
            : [upsert(endpointSliceObject(`s${index}`, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: endpointOf(index + 1000, family), nodeName: 'node-a' }] }))];
        const [batch, ...others] = await test.change(events);
        expect(others).toEqual([]);
        if (kind === 'remove') live.delete(index);
        else live.set(index, spec);
        checkAll(live);

        if (tables.addresses.restructures === restructures) {
          const port = before ?? idOf(index);
          const allowed = new Set([
            ...pathBefore, ...pathOf(spec.ip), serviceChain(port),
            ...[index, index + 1000].map((host) => endpointChain(port, { ip: endpointOf(host, family), port: 8080 })),
          ]);
          const touched = batch!.input.split('\n').filter((line) => line.startsWith(':')).map((line) => line.slice(1).split(' ')[0]!);
          for (const chain of touched) expect(allowed).toContain(chain);
        }
      }), { numRuns: 60 });
    }, 120_000);
  });
}
