import { dump } from 'js-yaml';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { SourceEvent } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';

/** Ports of the bench's world: every service is TCP 80 → 8080; the first and last also carry iperf3. */
export const SERVICE_PORT = 80;
export const POD_PORT = 8080;
export const IPERF_PORT = 5201;

/** The pods that really answer (sandbox namespaces): services start on a + b, a change moves them to c + d. */
export const REAL_PODS = {
  a: '10.244.1.11',
  b: '10.244.1.12',
  c: '10.244.1.13',
  d: '10.244.1.14',
} as const;
export const BEFORE_PODS = ['a', 'b'] as const;
export const AFTER_PODS = ['c', 'd'] as const;

/** Where the service IPs live. */
export const SERVICE_CIDR = '10.96.0.0/12';

export interface WorkloadSpec {
  readonly services: number;
  readonly seed: number;
  /** Services whose endpoints the single-change measurement moves (each once). */
  readonly changes: number;
  /** Services the file-source measurement edits. */
  readonly fileEdits: number;
}

const SERVICE_BASE = ipNumber('10.96.0.0');
const SERVICE_SPAN = 2 ** 20;
/** Fake pods: unique addresses in 10.128.0.0/12 that no namespace holds. */
const FAKE_POD_BASE = ipNumber('10.128.0.0');

/**
 * The bench's world, the same for every backend and every run with the same spec: N ClusterIP
 * services at distinct random addresses in 10.96.0.0/12 (as the API server allocates them), numbered
 * in address order, so service 0 is the first rule of kube-proxy's flat chain and service N-1 the
 * last. Each has 2 TCP endpoints. The first, the last and the change targets point at real pods; the
 * others at unique fake pod addresses (their rules exist all the same).
 */
export class Workload {
  readonly clusterIPs: readonly string[];
  readonly changeTargets: readonly number[];
  readonly fileTargets: readonly number[];
  private readonly real: ReadonlySet<number>;

  constructor(readonly spec: WorkloadSpec) {
    if (spec.services < 2) throw new Error('the bench needs at least 2 services');
    const rng = xoroshiro128plus(spec.seed);
    const draw = (min: number, max: number): number => uniformInt(rng, min, max);
    const addresses = new Set<number>();
    while (addresses.size < spec.services) addresses.add(SERVICE_BASE + draw(2, SERVICE_SPAN - 2));
    this.clusterIPs = [...addresses].sort((x, y) => x - y).map(ipText);
    // Targets: distinct services strictly between the first and the last, drawn at random.
    const wanted = Math.min(spec.changes + spec.fileEdits, spec.services - 2);
    const targets = new Set<number>();
    while (targets.size < wanted) targets.add(draw(1, spec.services - 2));
    const drawn = [...targets];
    this.changeTargets = drawn.slice(0, Math.min(spec.changes, drawn.length));
    this.fileTargets = drawn.slice(this.changeTargets.length);
    this.real = new Set([0, spec.services - 1, ...drawn]);
  }

  get first(): number {
    return 0;
  }

  get last(): number {
    return this.spec.services - 1;
  }

  /** Every object of the initial state, as a source would deliver it. */
  events(): SourceEvent[] {
    return this.eventPages(this.spec.services).flat();
  }

  /** The initial state in pages of `services` services' objects, as a source lists them. */
  eventPages(services: number): SourceEvent[][] {
    const pages: SourceEvent[][] = [];
    for (let index = 0; index < this.spec.services; index++) {
      if (index % services === 0) pages.push([]);
      for (const object of this.objects(index)) pages.at(-1)!.push({ action: 'upsert', kind: object.kind as 'Service', object });
    }
    return pages;
  }

  /** The change of one target: its endpoints move from pods a + b to c + d. */
  changeEvent(index: number): SourceEvent {
    return { action: 'upsert', kind: 'EndpointSlice', object: this.slice(index, AFTER_PODS.map((pod) => REAL_PODS[pod])) };
  }

  /**
   * The state as a manifest file, block-style YAML documents as kubectl prints them (20,000 services:
   * 15 MB), with `edited` targets already moved to c + d.
   */
  manifests(edited: ReadonlySet<number> = new Set()): string {
    const documents: string[] = [];
    for (let index = 0; index < this.spec.services; index++) {
      const objects = this.objects(index);
      if (edited.has(index)) objects[1] = this.slice(index, AFTER_PODS.map((pod) => REAL_PODS[pod]));
      // noRefs: sub-objects the builders share are written out, not as YAML anchors.
      for (const object of objects) documents.push(dump(object, { noRefs: true }));
    }
    return documents.join('---\n');
  }

  private objects(index: number): Record<string, unknown>[] {
    const real = this.real.has(index);
    const probed = index === this.first || index === this.last;
    const ports = [{ name: 'http', port: SERVICE_PORT, targetPort: POD_PORT }];
    if (probed) ports.push({ name: 'iperf', port: IPERF_PORT, targetPort: IPERF_PORT });
    const endpoints = real ? BEFORE_PODS.map((pod) => REAL_PODS[pod]) : [fakePod(2 * index), fakePod(2 * index + 1)];
    const objects = [serviceObject(serviceName(index), { clusterIPs: [this.clusterIPs[index]!], ports }), this.slice(index, endpoints)];
    // iperf3 pairs a control and a data connection by cookie, so its port has one endpoint (pod a), in a slice of its own.
    if (probed) {
      objects.push(endpointSliceObject(serviceName(index), {
        name: `${serviceName(index)}-iperf`,
        ports: [{ name: 'iperf', port: IPERF_PORT }],
        endpoints: [{ ip: REAL_PODS.a }],
      }));
    }
    return objects;
  }

  private slice(index: number, ips: readonly string[]): Record<string, unknown> {
    return endpointSliceObject(serviceName(index), { ports: [{ name: 'http', port: POD_PORT }], endpoints: ips.map((ip) => ({ ip })) });
  }
}

function serviceName(index: number): string {
  return `svc-${index}`;
}

function fakePod(ordinal: number): string {
  return ipText(FAKE_POD_BASE + 1 + ordinal);
}

export function ipNumber(ip: string): number {
  return ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

export function ipText(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
