import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '@kplane/core';
import { endpointSliceObject, remove, renderBatches, serviceObject, upsert } from '@kplane/core/testing';
import { harness } from './support/harness.js';
import { trace } from './support/trace.js';

/** The batches as `kplane plan` prints them: what the golden files hold. */

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

/** Twenty-four services, four addresses apart: leaves of 4 hold 2 of them, with 3 free addresses between. */
async function spaced() {
  const test = harness({ 'leaf-size': '4' }, { clusterCIDRs: ['10.244.0.0/16'] });
  await test.start(Array.from({ length: 24 }, (_, index) => service(`t${index}`, `10.96.0.${4 * index + 1}`)));
  const tree = () => test.backend.tables(4)!.addresses;
  const leaf = [...tree().postOrder()].find((node) => node.items?.size === 2)!;
  const [first] = [...leaf.items!.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  const free = [1, 2, 3].map((offset) => `10.96.0.${(Number(first!.key) & 255) + offset}`);
  return { test, tree, leaf, free };
}

async function started() {
  const test = harness({ 'leaf-size': '4' }, { clusterCIDRs: ['10.244.0.0/16'] });
  await test.start(START.flatMap(([name, ip], index) => [service(name, ip), endpoints(name, [`10.244.${index}.1`, `10.244.${index}.2`])]));
  return test;
}

describe('iptables backend: golden restores', () => {
  it('writes a small tree with a full sync', async () => {
    const test = harness({ 'leaf-size': '4' }, { clusterCIDRs: ['10.244.0.0/16'] });
    const batches = await test.start(START.flatMap(([name, ip], index) => [service(name, ip), endpoints(name, [`10.244.${index}.1`, `10.244.${index}.2`])]));
    await expect(renderBatches(batches)).toMatchFileSnapshot('golden/full-tree.txt');
  });

  it('writes the flat layout with a full sync', async () => {
    const test = harness({ layout: 'flat' }, { clusterCIDRs: ['10.244.0.0/16'] });
    const batches = await test.start(START.slice(0, 3).flatMap(([name, ip]) => [service(name, ip), endpoints(name, ['10.244.0.1'])]));
    await expect(renderBatches(batches)).toMatchFileSnapshot('golden/full-flat.txt');
  });

  it('an endpoint change rewrites the service and endpoint chains only', async () => {
    const test = await started();
    await expect(renderBatches(await test.change([endpoints('a', ['10.244.0.1', '10.244.0.3'])]))).toMatchFileSnapshot('golden/partial-endpoints.txt');
  });

  it('a new service in a leaf with room rewrites that leaf, and the parent whose last child widens its prefix to hold it', async () => {
    const test = await started();
    await expect(renderBatches(await test.change([service('h', '10.100.0.1'), endpoints('h', ['10.244.9.1'])]))).toMatchFileSnapshot('golden/partial-add.txt');
  });

  it('a new service in a full leaf splits it, and only that leaf\'s path changes', async () => {
    const { test, tree, leaf, free } = await spaced();
    await test.change([service('h', free[0]!), service('i', free[1]!)]);
    const restructures = tree().restructures;
    await expect(renderBatches(await test.change([service('j', free[2]!)]))).toMatchFileSnapshot('golden/partial-split.txt');
    expect(tree().restructures).toBe(restructures + 1);
    expect(tree().node(leaf.chain)!.children).not.toBeNull();
  });

  it('a deleted service leaves its leaf, here the last of it, and deletes its chains', async () => {
    const test = await started();
    await expect(renderBatches(await test.change([remove('Service', 'default/g'), remove('EndpointSlice', 'default/g-ipv4')]))).toMatchFileSnapshot('golden/partial-remove.txt');
  });

  it('deleting services until a subtree holds at most half a leaf merges it into one leaf', async () => {
    const { test, tree, leaf, free } = await spaced();
    await test.change([service('h', free[0]!), service('i', free[1]!), service('j', free[2]!)]);
    const names = [...tree().node(leaf.chain)!.children!.flatMap((child) => [...child.items!.values()])].map((item) => item.target);
    const services = [...test.engine.desiredState.values()].filter((port) => names.includes(`KPLANE-SVC-${port.servicePort.id}`)).map((port) => port.servicePort.service.split('/')[1]!);
    await test.change(services.slice(0, 2).map((name) => remove('Service', `default/${name}`)));
    await expect(renderBatches(await test.change([remove('Service', `default/${services[2]!}`)]))).toMatchFileSnapshot('golden/partial-merge.txt');
    expect(tree().node(leaf.chain)!.children).toBeNull();
  });

  it('a service that becomes a NodePort gets an external chain and a place in the node-port tree', async () => {
    const test = await started();
    await expect(renderBatches(await test.change([service('c', '10.96.0.12', 30080)]))).toMatchFileSnapshot('golden/partial-nodeport.txt');
  });

  it('a service without endpoints rejects, and a repeated state sends nothing', async () => {
    const test = await started();
    await expect(renderBatches(await test.change([endpoints('e', [])]))).toMatchFileSnapshot('golden/partial-no-endpoints.txt');
    expect(await test.change([endpoints('e', [])])).toEqual([]);
  });
});

describe('iptables backend: service CIDRs', () => {
  const serviceCIDR = (cidrs: string[]) => upsert({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs } });

  it('a full sync drops what is left of each family\'s service CIDRs after the trees of service IPs and node ports', async () => {
    const test = harness({ layout: 'flat' }, { clusterCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['fd00:10:96::/108'] });
    const batches = await test.start([serviceCIDR(['10.96.0.0/12']), service('a', '10.96.0.10'), endpoints('a', ['10.244.0.1'])]);
    await expect(renderBatches(batches)).toMatchFileSnapshot('golden/full-service-cidrs.txt');
  });

  it('a changed service CIDR rewrites the entry chain of its family alone', async () => {
    const test = await started();
    expect(renderBatches(await test.change([serviceCIDR(['10.96.0.0/12'])]))).toBe([
      '# iptables-nft-restore -w 5 --noflush',
      '*nat',
      ':KPLANE-SERVICES - [0:0]',
      '-A KPLANE-SERVICES -j KPLANE-IPS',
      '-A KPLANE-SERVICES ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j KPLANE-NODEPORTS',
      '-A KPLANE-SERVICES -d 10.96.0.0/12 -j KPLANE-DROP',
      'COMMIT',
      '',
    ].join('\n'));
    expect(await test.change([remove('ServiceCIDR', 'kubernetes')])).toHaveLength(1);
    expect(test.client.chains('nft', 4, 'nat').get('KPLANE-SERVICES')).toEqual(['-j KPLANE-IPS', '! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j KPLANE-NODEPORTS']);
  });

  it('through the tree, an allocated cluster IP reaches its service or is rejected, the rest of the CIDR is dropped', async () => {
    const test = await started();
    await test.change([serviceCIDR(['10.96.0.0/12'])]);
    const verdict = (destination: string, port: number) => trace(test.client.chains('nft', 4, 'nat'), { destination, protocol: 'tcp', port }).verdict;
    for (const [, ip] of START) {
      expect(verdict(ip, 80)).toMatch(/^KPLANE-SVC-/);
      expect(verdict(ip, 9999)).toBe('KPLANE-REJECT');
    }
    for (const ip of ['10.96.0.13', '10.96.200.4', '10.97.0.2', '10.111.255.254']) expect(verdict(ip, 80)).toBe('KPLANE-DROP');
    expect(verdict('10.112.0.1', 80)).toBeNull();
  });

  it('a Service added inside a service CIDR rewrites its own chains and its leaf, not the entry', async () => {
    const test = await started();
    await test.change([serviceCIDR(['10.96.0.0/12'])]);
    const text = renderBatches(await test.change([service('h', '10.96.0.13'), endpoints('h', ['10.244.9.1'])]));
    expect(text).toContain('-A KPLANE-IPS');
    expect(text).not.toContain(':KPLANE-SERVICES');
  });
});
