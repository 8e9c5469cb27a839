import { describe, expect, it } from 'vitest';
import { DryRunExecutor, type Batch, type SourceEvent } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { harness, remove, upsert } from './support/harness.js';

/** The batches as `kplane plan` prints them: what the golden files hold. */
function render(batches: readonly Batch[]): string {
  const printer = new DryRunExecutor();
  printer.batches.push(...batches);
  return printer.render();
}

function service(name: string, ip: string, nodePort?: number): SourceEvent {
  return upsert(serviceObject(name, {
    clusterIPs: [ip],
    type: nodePort ? 'NodePort' : 'ClusterIP',
    ports: [{ name: 'http', port: 80, ...(nodePort && { nodePort }) }],
  }));
}

function endpoints(name: string, ips: readonly string[]): SourceEvent {
  return upsert(endpointSliceObject(name, { ports: [{ name: 'http', port: 8080 }], endpoints: ips.map((ip) => ({ ip, nodeName: 'node-a' })) }));
}

/** Seven services spread over 10.96.0.0/15: with leaves of 4, a root and a few levels. */
const START: readonly [string, string][] = [
  ['a', '10.96.0.10'], ['b', '10.96.0.11'], ['c', '10.96.0.12'], ['d', '10.96.1.5'],
  ['e', '10.96.8.1'], ['f', '10.96.200.3'], ['g', '10.97.0.1'],
];

async function started() {
  const test = harness({ 'leaf-size': '4' }, { clusterCIDRs: ['10.244.0.0/16'] });
  await test.start(START.flatMap(([name, ip], index) => [service(name, ip), endpoints(name, [`10.244.${index}.1`, `10.244.${index}.2`])]));
  return test;
}

describe('iptables backend: golden restores', () => {
  it('writes a small tree with a full sync', async () => {
    const test = harness({ 'leaf-size': '4' }, { clusterCIDRs: ['10.244.0.0/16'] });
    const batches = await test.start(START.flatMap(([name, ip], index) => [service(name, ip), endpoints(name, [`10.244.${index}.1`, `10.244.${index}.2`])]));
    await expect(render(batches)).toMatchFileSnapshot('golden/full-tree.txt');
  });

  it('writes the flat layout with a full sync', async () => {
    const test = harness({ layout: 'flat' }, { clusterCIDRs: ['10.244.0.0/16'] });
    const batches = await test.start(START.slice(0, 3).flatMap(([name, ip]) => [service(name, ip), endpoints(name, ['10.244.0.1'])]));
    await expect(render(batches)).toMatchFileSnapshot('golden/full-flat.txt');
  });

  it('an endpoint change rewrites the service and endpoint chains only', async () => {
    const test = await started();
    await expect(render(await test.change([endpoints('a', ['10.244.0.1', '10.244.0.3'])]))).toMatchFileSnapshot('golden/partial-endpoints.txt');
  });

  it('a new service in a leaf with room rewrites that leaf, and the parent whose last child widens its prefix to hold it', async () => {
    const test = await started();
    await expect(render(await test.change([service('h', '10.100.0.1'), endpoints('h', ['10.244.9.1'])]))).toMatchFileSnapshot('golden/partial-add.txt');
  });

  it('a new service in a full leaf splits it', async () => {
    const test = await started();
    await expect(render(await test.change([service('h', '10.96.0.13'), endpoints('h', ['10.244.9.1'])]))).toMatchFileSnapshot('golden/partial-split.txt');
  });

  it('a deleted service leaves its leaf and deletes its chains', async () => {
    const test = await started();
    await expect(render(await test.change([remove('Service', 'g'), remove('EndpointSlice', 'g-ipv4')]))).toMatchFileSnapshot('golden/partial-remove.txt');
  });

  it('deleting services until a subtree holds at most half a leaf merges it into one leaf', async () => {
    const test = await started();
    await test.change([service('h', '10.96.0.13')]);
    await test.change([remove('Service', 'a'), remove('Service', 'c')]);
    await expect(render(await test.change([remove('Service', 'h')]))).toMatchFileSnapshot('golden/partial-merge.txt');
  });

  it('a service that becomes a NodePort gets an external chain and a place in the node-port tree', async () => {
    const test = await started();
    await expect(render(await test.change([service('c', '10.96.0.12', 30080)]))).toMatchFileSnapshot('golden/partial-nodeport.txt');
  });

  it('a service without endpoints rejects, and a repeated state sends nothing', async () => {
    const test = await started();
    await expect(render(await test.change([endpoints('e', [])]))).toMatchFileSnapshot('golden/partial-no-endpoints.txt');
    expect(await test.change([endpoints('e', [])])).toEqual([]);
  });
});
