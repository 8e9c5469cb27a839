import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { FAKE_BACKENDS, type FakeBackend } from './fake-backends.js';

/**
 * Issue 15, item 7 (names): two Services whose names would run together in a naive derived name
 * (namespace `a-b` name `c` and namespace `a` name `b-c`; 63-character names that share all but
 * their last characters; port names likewise) own rules of their own: deleting one leaves the
 * node exactly as if only the other had ever existed, on every backend.
 */

const label = (length: number) => fc.stringMatching(new RegExp(`^[a-z]([a-z0-9-]{0,${length - 2}}[a-z0-9])?$`));

interface Named {
  readonly namespace: string;
  readonly name: string;
  readonly port: string;
}

/** Two (namespace, name, port name) triples that look alike: shifted dashes, or one long shared prefix. */
const lookAlikes: fc.Arbitrary<[Named, Named]> = fc.oneof(
  fc.tuple(label(20), label(20), label(20), label(8)).map(([a, b, c, port]): [Named, Named] => [
    { namespace: `${a}-${b}`, name: c, port },
    { namespace: a, name: `${b}-${c}`, port },
  ]),
  fc.tuple(label(20), fc.constantFrom('a', 'b', '1'), fc.constantFrom('c', 'd', '2')).map(([stem, first, second]): [Named, Named] => {
    const long = stem.padEnd(62, 'x');
    return [{ namespace: 'default', name: `${long}${first}`, port: 'http' }, { namespace: 'default', name: `${long}${second}`, port: 'http' }];
  }),
  fc.tuple(label(20), label(6), label(6)).map(([name, a, b]): [Named, Named] => [
    { namespace: 'default', name, port: `${a}-${b}` },
    { namespace: 'default', name: `${name}-${a}`, port: b },
  ]),
).filter(([a, b]) => `${a.namespace}/${a.name}` !== `${b.namespace}/${b.name}`);

function objects({ namespace, name, port }: Named, index: number): SourceEvent[] {
  return [
    upsert(serviceObject(name, {
      namespace, type: 'NodePort', clusterIPs: [`10.96.0.${index}`, `fd00:96::${index}`], externalIPs: [`192.0.2.${index}`],
      ports: [{ name: port, port: 80, targetPort: 8080, nodePort: 30000 + index }],
    })),
    upsert(endpointSliceObject(name, { namespace, ports: [{ name: port, port: 8080 }], endpoints: [{ ip: `10.244.1.${index}`, nodeName: 'node-a' }] })),
  ];
}

async function node(make: () => FakeBackend, events: readonly SourceEvent[]): Promise<FakeBackend> {
  const backend = make();
  await backend.proxy.backend.init();
  backend.proxy.engine.handle(events);
  expect(await backend.proxy.engine.sync()).toBe(true);
  return backend;
}

describe.each(Object.keys(FAKE_BACKENDS))('%s: Services with look-alike names', (name) => {
  const make = FAKE_BACKENDS[name]!;

  it('own separate rules: deleting one leaves the node as if only the other had existed', async () => {
    await fc.assert(fc.asyncProperty(lookAlikes, async ([first, second]) => {
      const both = await node(make, [...objects(first, 1), ...objects(second, 2)]);
      both.proxy.engine.handle([
        { action: 'delete', kind: 'Service', ref: `${first.namespace}/${first.name}` },
        { action: 'delete', kind: 'EndpointSlice', ref: `${first.namespace}/${first.name}-ipv4` },
      ]);
      expect(await both.proxy.engine.sync()).toBe(true);
      const only = await node(make, objects(second, 2));
      expect(both.dump()).toBe(only.dump());
    }), { numRuns: 40 });
  }, 30_000);
});
