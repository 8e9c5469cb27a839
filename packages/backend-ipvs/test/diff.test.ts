import { describe, expect, it } from 'vitest';
import { testProxy } from '@kplane/core/testing';
import { FakeIpvsClient, ipvsModule, type IpvsClient } from '../src/index.js';
import { CONFIG, NODE_INTERFACES, endpoints, fakeNode, upsert, world } from './support/world.js';

/** The fake's reads, with every write dropped: what `kplane plan --diff`'s dry-run executor makes of the real client. */
function readOnly(fake: FakeIpvsClient): IpvsClient {
  const skip = async (): Promise<void> => {};
  return {
    restoreServices: skip, restoreSets: skip, runIp: skip, restoreRules: skip, writeSysctls: skip,
    saveServices: () => fake.saveServices(), listServices: () => fake.listServices(), saveSets: (name) => fake.saveSets(name),
    listSetHeaders: () => fake.listSetHeaders(), readIpvsTable: () => fake.readIpvsTable(), listAddresses: (device) => fake.listAddresses(device),
    listRules: (family, table) => fake.listRules(family, table), kernelRelease: () => fake.kernelRelease(), ipvsProtocolSymbols: () => fake.ipvsProtocolSymbols(),
  };
}

/** A node synced with the world, and a plan of `objects` diffed against its kernel, as `kplane plan --diff` does. */
async function node() {
  const agent = fakeNode({}, new FakeIpvsClient({ interfaces: NODE_INTERFACES }));
  await agent.start(world().map(upsert));
  const planDiff = async (objects: Record<string, unknown>[]) => {
    const plan = testProxy(ipvsModule({ client: readOnly(agent.fake) }), { config: CONFIG });
    await plan.start(objects.map(upsert));
    return [...(await plan.backend.diff!())];
  };
  return { fake: agent.fake, planDiff };
}

describe('ipvs: kplane plan --diff', () => {
  it('finds no drift where the kernel holds the plan', async () => {
    const { planDiff } = await node();
    expect(await planDiff(world())).toEqual([]);
  });

  it('finds what the plan changes: an endpoint more, a Service fewer', async () => {
    const { planDiff } = await node();
    const objects = world().filter((object) => !JSON.stringify(object).includes('"ext')).map((object) =>
      (JSON.stringify(object).includes('"name":"dns-4"') ? endpoints('dns', ['a', 'b', 'r'], { port: 5353, protocol: 'UDP' }) : object));
    const drift = await planDiff(objects);
    expect(drift).toContain('ipvs: virtual service -u 10.96.0.53:53 has real server 10.244.1.12:5353 missing, the plan has weight 1');
    expect(drift).toContain('ipvs: virtual service -t 10.96.0.20:80 is not in the plan');
    expect(drift).toContain('ipvs: virtual service -t 192.0.2.10:80 is not in the plan');
    expect(drift).toContain('ip: address 10.96.0.20 is not in the plan');
  });

  it('finds what was changed from outside: a virtual service, a real server\'s weight, a set member, an address, a chain, a jump', async () => {
    const { fake, planDiff } = await node();
    fake.outside('ipvsadm', '-D -t 10.96.0.20:80');
    fake.outside('ipvsadm', '-e -u 10.96.0.53:53 -r 10.244.1.11:5353 -m -w 3');
    fake.outside('ipset', 'del kplane-ipvs4-cluster-ip 10.96.0.10,tcp:80');
    fake.outside('ip', 'address del 10.96.0.30/32 dev kplane-ipvs0');
    fake.iptables.get(4)!.command(['-t', 'nat', '-F', 'KPLANE-IPVS-POSTROUTING']);
    fake.iptables.get(6)!.command(['-t', 'nat', '-D', 'OUTPUT', '-m', 'comment', '--comment', 'kplane-ipvs', '-j', 'KPLANE-IPVS-SERVICES']);
    expect((await planDiff(world())).sort()).toEqual([
      expect.stringMatching(/^ip6tables: nat OUTPUT has 0 jumps to KPLANE-IPVS-SERVICES, the plan has 1$/),
      'ip: address 10.96.0.30 is missing',
      'ipset: set member kplane-ipvs4-cluster-ip 10.96.0.10,tcp:80 is missing',
      expect.stringMatching(/^iptables: chain KPLANE-IPVS-POSTROUTING has 0 rules, kplane wrote \d+$/),
      'ipvs: virtual service -t 10.96.0.20:80 is missing',
      'ipvs: virtual service -u 10.96.0.53:53 has real server 10.244.1.11:5353 at weight 3, the plan has weight 1',
    ]);
  });
});
