import { dump } from 'js-yaml';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { POD_PORT, REAL_PODS, SERVICE_PORT, ipNumber, ipText } from '../workload.js';

/** Services the soak's clients reach all along: never edited, behind the real pods a and b. */
export const STABLE_SERVICES = 4;

export type ChurnKind = 'endpoints' | 'add' | 'delete';

/**
 * The soak's world, changing: `services` ClusterIP services, the first STABLE_SERVICES behind
 * real pods and never touched, the others behind fake pods. Each change edits one service's
 * endpoints, adds a service or deletes one, at random (the count stays near `services`). The
 * manifest keeps each service's YAML text and re-dumps only what changed: at 20,000 services the
 * file is rewritten every second.
 */
export class ChurnWorld {
  private readonly documents = new Map<number, string>();
  /** Ids of the services that may change (not the stable ones). */
  private readonly churned: number[] = [];
  private nextId = 0;
  private edits = 0;
  private readonly next: () => number;
  readonly counts: Record<ChurnKind, number> = { endpoints: 0, add: 0, delete: 0 };

  constructor(services: number, seed: number) {
    const rng = xoroshiro128plus(seed);
    this.next = () => uniformInt(rng, 0, 2 ** 30);
    for (let index = 0; index < services; index++) this.add();
  }

  get size(): number {
    return this.documents.size;
  }

  /** The cluster IPs of the stable services. */
  get stableIPs(): string[] {
    return Array.from({ length: STABLE_SERVICES }, (_, id) => clusterIP(id));
  }

  /** One random change: an endpoint edit (60%), an add or a delete (20% each). */
  change(): ChurnKind {
    const draw = this.next() % 10;
    const kind: ChurnKind = draw < 6 || this.churned.length === 0 ? 'endpoints' : draw < 8 ? 'add' : 'delete';
    if (kind === 'add') this.add();
    else {
      const slot = this.next() % this.churned.length;
      const id = this.churned[slot]!;
      if (kind === 'delete') {
        this.documents.delete(id);
        this.churned[slot] = this.churned.at(-1)!;
        this.churned.pop();
      } else this.documents.set(id, documents(id, ++this.edits));
    }
    this.counts[kind]++;
    return kind;
  }

  /** A last service, behind the real pods c and d: once it answers, every change before it is live. */
  addMarker(): string {
    const id = this.nextId++;
    this.documents.set(id, documents(id, 0, [REAL_PODS.c, REAL_PODS.d]));
    return clusterIP(id);
  }

  manifests(): string {
    return [...this.documents.values()].join('---\n');
  }

  private add(): void {
    const id = this.nextId++;
    this.documents.set(id, documents(id, 0));
    if (id >= STABLE_SERVICES) this.churned.push(id);
  }
}

/** Ids map to distinct addresses in 10.96.0.0/12 (a million of them: far more than a soak adds). */
function clusterIP(id: number): string {
  return ipText(ipNumber('10.96.0.10') + id);
}

/** A service and its slice as YAML documents; `edit` moves a churned service's fake pods. */
function documents(id: number, edit: number, real?: readonly string[]): string {
  const name = `soak-${id}`;
  const endpoints = real ?? (id < STABLE_SERVICES
    ? [REAL_PODS.a, REAL_PODS.b]
    : [0, 1].map((offset) => ipText(ipNumber('10.128.0.1') + ((2 * id + offset + 7919 * edit) % 1_000_000))));
  return [
    serviceObject(name, { clusterIPs: [clusterIP(id)], ports: [{ name: 'http', port: SERVICE_PORT, targetPort: POD_PORT }] }),
    endpointSliceObject(name, { ports: [{ name: 'http', port: POD_PORT }], endpoints: endpoints.map((ip) => ({ ip })) }),
  ].map((object) => dump(object, { noRefs: true })).join('---\n');
}
