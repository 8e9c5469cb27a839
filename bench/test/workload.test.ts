import { describe, expect, it } from 'vitest';
import { parseManifests, type SourceEvent } from '@kplane/core';
import { validateEndpointSlice, validateService } from '@kplane/core/testing';
import { AFTER_PODS, BEFORE_PODS, IPERF_PORT, REAL_PODS, Workload } from '../src/workload.js';

const spec = { services: 300, seed: 7, changes: 30, fileEdits: 2 };

interface RawObject {
  readonly kind: string;
  readonly metadata: { readonly name: string };
}

/** The raw object an upsert event carries. */
function objectOf(event: SourceEvent): RawObject {
  if (event.action !== 'upsert') throw new Error('expected an upsert');
  return event.object as RawObject;
}

describe('Workload', () => {
  it('is the same world for the same spec, and another for another seed', () => {
    expect(new Workload(spec).clusterIPs).toEqual(new Workload(spec).clusterIPs);
    expect(new Workload(spec).changeTargets).toEqual(new Workload(spec).changeTargets);
    expect(new Workload({ ...spec, seed: 8 }).clusterIPs).not.toEqual(new Workload(spec).clusterIPs);
  });

  it('numbers services in address order, with distinct addresses inside 10.96.0.0/12', () => {
    const { clusterIPs } = new Workload(spec);
    const numbers = clusterIPs.map((ip) => ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0));
    expect(new Set(clusterIPs).size).toBe(spec.services);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    for (const ip of clusterIPs) expect(ip).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
  });

  it('draws distinct change and file targets strictly between the first and the last service', () => {
    const workload = new Workload(spec);
    const targets = [...workload.changeTargets, ...workload.fileTargets];
    expect(workload.changeTargets).toHaveLength(30);
    expect(workload.fileTargets).toHaveLength(2);
    expect(new Set(targets).size).toBe(targets.length);
    for (const target of targets) expect(target > workload.first && target < workload.last).toBe(true);
  });

  it('gives real pods to the first, last and target services and unique fake pods to the others', () => {
    const workload = new Workload(spec);
    const slices = workload.events().map(objectOf).filter((object) => object.kind === 'EndpointSlice')
      .map((object) => validateEndpointSlice(object))
      .map((result) => { if (!result.ok) throw result.error; return result.value; });
    const endpointsOf = (index: number) => slices.find((slice) => slice.service === `default/svc-${index}` && slice.ports[0]?.name === 'http')!.endpoints.map((endpoint) => endpoint.ip);
    const real = BEFORE_PODS.map((pod) => REAL_PODS[pod]);
    for (const index of [workload.first, workload.last, ...workload.changeTargets, ...workload.fileTargets]) expect(endpointsOf(index)).toEqual(real);
    const fake = slices.filter((slice) => !real.includes(slice.endpoints[0]!.ip as never)).flatMap((slice) => slice.endpoints.map((endpoint) => endpoint.ip));
    expect(fake).toHaveLength(2 * (spec.services - 2 - 32));
    expect(new Set(fake).size).toBe(fake.length);
  });

  it('gives the first and last service an iperf3 port whose one endpoint is pod a', () => {
    const workload = new Workload(spec);
    const names = workload.events().map(objectOf).map((object) => object.metadata.name);
    expect(names.filter((name) => name.endsWith('-iperf'))).toEqual([`svc-${workload.first}-iperf`, `svc-${workload.last}-iperf`]);
    const valid = validateService(workload.events().map(objectOf).find((object) => object.kind === 'Service'));
    expect(valid.ok && valid.value.ports.map((port) => port.port)).toEqual([80, IPERF_PORT]);
  });

  it('delivers the same objects in pages, and a change moves a target to pods c + d', () => {
    const workload = new Workload(spec);
    expect(workload.eventPages(64).flat()).toEqual(workload.events());
    expect(workload.eventPages(64)).toHaveLength(Math.ceil(spec.services / 64));
    const change = workload.changeEvent(workload.changeTargets[0]!);
    const valid = validateEndpointSlice(objectOf(change));
    expect(valid.ok && valid.value.endpoints.map((endpoint) => endpoint.ip)).toEqual(AFTER_PODS.map((pod) => REAL_PODS[pod]));
  });

  it('writes manifests that parse back to the same objects, with edited targets moved', () => {
    const workload = new Workload(spec);
    const objects = [...parseManifests(workload.manifests()).values()].map((entry) => entry.object);
    expect(objects).toEqual(workload.events().map(objectOf));
    const target = workload.fileTargets[0]!;
    const edited = parseManifests(workload.manifests(new Set([target]))).get(`EndpointSlice:default/svc-${target}-ipv4`)!;
    expect(edited.object).toEqual(objectOf(workload.changeEvent(target)));
  });
});
