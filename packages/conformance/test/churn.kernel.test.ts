import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerModule } from 'inversify';
import iptables from '@kplane/backend-iptables';
import nft from '@kplane/backend-nft';
import { DEFAULT_CONFIG, type ProxyConfig, type SourceEvent } from '@kplane/core';
import { endpointSliceObject, remove, serviceObject, testProxy, upsert } from '@kplane/core/testing';
import { SANDBOX_NETWORK, Sandbox, kplaneListing, listingDifference } from '../src/sandbox/index.js';

/**
 * Churn, asserting correctness only (the timed soak is the bench's `--soak`): 200 services, then
 * 30 rounds of 10 changes each (endpoint edits, Service adds and deletes), one sync per round,
 * while the client reaches 4 services that never change. No connection to them may fail, and
 * afterwards the kernel must hold exactly what a clean run of the final state writes: no chain, set,
 * rule or element left behind by a deleted or edited service.
 */
const SERVICES = 200;
const ROUNDS = 30;
const CHANGES_PER_ROUND = 10;
const STABLE = 4;

const CONFIG: ProxyConfig = {
  ...DEFAULT_CONFIG,
  nodeName: SANDBOX_NETWORK.nodeName,
  nodeIPs: [...SANDBOX_NETWORK.nodeIPs],
  clusterCIDRs: [...SANDBOX_NETWORK.clusterCIDRs],
};

/** The services and their slices, by id; stable ones point at pods a and b, the others at addresses no pod holds. */
class World {
  readonly live = new Map<number, SourceEvent[]>();
  private nextId = 0;
  private edits = 0;
  private seed = 1;

  constructor(services: number) {
    for (let index = 0; index < services; index++) this.add();
  }

  clusterIP(id: number): string {
    return `10.96.${Math.floor(id / 250)}.${(id % 250) + 2}`;
  }

  /** One change (an endpoint edit, an add or a delete, drawn from a fixed sequence) and its events. */
  change(): SourceEvent[] {
    const draw = this.random(10);
    const churned = [...this.live.keys()].filter((id) => id >= STABLE);
    if (draw >= 6 && draw < 8) return this.add();
    const id = churned[this.random(churned.length)]!;
    if (draw >= 8) {
      this.live.delete(id);
      return [remove('Service', `default/svc-${id}`), remove('EndpointSlice', `default/svc-${id}-ipv4`)];
    }
    const events = this.objects(id, ++this.edits);
    this.live.set(id, events);
    return [events[1]!];
  }

  all(): SourceEvent[] {
    return [...this.live.values()].flat();
  }

  private add(): SourceEvent[] {
    const id = this.nextId++;
    const events = this.objects(id, 0);
    this.live.set(id, events);
    return events;
  }

  private objects(id: number, edit: number): SourceEvent[] {
    const ips = id < STABLE ? ['10.244.1.11', '10.244.1.12'] : [0, 1].map((offset) => `10.128.${(id + edit) % 250}.${(2 * edit + offset) % 250 + 1}`);
    return [
      upsert(serviceObject(`svc-${id}`, { clusterIPs: [this.clusterIP(id)], ports: [{ name: 'http', port: 80, targetPort: 8080 }] })),
      upsert(endpointSliceObject(`svc-${id}`, { ports: [{ name: 'http', port: 8080 }], endpoints: ips.map((ip) => ({ ip })) })),
    ];
  }

  /** A fixed sequence (a linear congruential generator), the same on every run. */
  private random(below: number): number {
    this.seed = (this.seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return this.seed % below;
  }
}

/**
 * iptables' tree of KPLANE-IPS chains is split by address prefix as services come and go, so after
 * churn its shape differs from a clean run's while matching the same addresses: its chains and the
 * jumps between them are left out, and each service's rule is compared whatever tree chain holds it.
 */
function withoutTreeShape(lines: readonly string[]): string[] {
  return lines
    .filter((line) => !/"(chain|name)":"KPLANE-IPS(-\d+)?"\}\}$|"target":"KPLANE-IPS-\d+"/.test(line))
    .map((line) => line.replace(/KPLANE-IPS-\d+/g, 'KPLANE-IPS-*'));
}

const BACKENDS: readonly { name: string; plugin: ContainerModule; options?: [string, string][]; normalise?: (lines: readonly string[]) => string[] }[] = [
  { name: 'nft', plugin: nft },
  { name: 'iptables (tree, nft mode)', plugin: iptables, options: [['layout', 'tree'], ['mode', 'nft']], normalise: withoutTreeShape },
];

describe.each(BACKENDS)('churn on $name: 200 services, 300 changes', ({ plugin, options, normalise = (lines) => [...lines] }) => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await Sandbox.create();
  });
  afterAll(() => sandbox?.destroy());

  it('never fails a connection to an unchanged service, and leaves exactly what a clean run of the final state writes', async () => {
    const config = { ...CONFIG, backendOptions: new Map(options ?? []) };
    const world = new World(SERVICES);
    const churning = testProxy(plugin, { config, executor: sandbox.executor });
    await churning.start(world.all());
    const failed: string[] = [];
    let connections = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const events = Array.from({ length: CHANGES_PER_ROUND }, () => world.change()).flat();
      // The client connects while the sync writes, and after it.
      const probes = Array.from({ length: STABLE }, (_, id) => sandbox.client.tcp(world.clusterIP(id), 80, { timeoutMs: 2000 }));
      await churning.sync(events);
      probes.push(...Array.from({ length: STABLE }, (_, id) => sandbox.client.tcp(world.clusterIP(id), 80, { timeoutMs: 2000 })));
      for (const result of await Promise.all(probes)) {
        connections++;
        if (!result.ok) failed.push(result.error);
        else if (!['a', 'b'].includes(result.answer.pod)) failed.push(`answered by ${result.answer.pod}`);
      }
    }
    expect(connections).toBe(ROUNDS * STABLE * 2);
    expect(failed).toEqual([]);
    const churned = normalise(await kplaneListing(sandbox.nodeNamespace));

    await churning.backend.cleanup();
    const clean = testProxy(plugin, { config, executor: sandbox.executor });
    await clean.start(world.all());
    const { extra, missing } = listingDifference(churned, normalise(await kplaneListing(sandbox.nodeNamespace)));
    expect({ extra: extra.slice(0, 5), missing: missing.slice(0, 5), counts: [extra.length, missing.length] }).toEqual({ extra: [], missing: [], counts: [0, 0] });
  });
});
