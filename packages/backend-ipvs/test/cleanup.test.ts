import { describe, expect, it } from 'vitest';
import { ToolMissingError } from '@kplane/core';
import { FakeExecutor, upsert } from '@kplane/core/testing';
import { FakeIpvsClient } from '../src/index.js';
import { fakeNode, ipvsProxy, NODE_INTERFACES, world } from './support/world.js';

describe('ipvs cleanup, tool by tool', () => {
  it('without ipvsadm still removes the sets and the dummy interface', async () => {
    const executor = new FakeExecutor({
      // Not installed: the real executor fails its spawn (ENOENT) so.
      'ipvsadm -S -n': () => {
        throw new ToolMissingError('ipvsadm');
      },
      'ipset save': 'create kplane-ipvs4-vip hash:ip family inet hashsize 1024 maxelem 1048576\nadd kplane-ipvs4-vip 10.96.0.10\n',
      'ip -o address show dev kplane-ipvs0': '9: kplane-ipvs0    inet 10.96.0.10/32 scope global kplane-ipvs0\\       valid_lft forever preferred_lft forever',
      ...Object.fromEntries(['iptables', 'ip6tables'].flatMap((tool) => ['nat', 'filter'].map((table) => [`${tool} -w 5 -t ${table} -S`, '']))),
    });
    const { backend } = ipvsProxy(executor);
    await backend.cleanup();
    expect(executor.render()).toBe([
      '# ip -batch -',
      'link del kplane-ipvs0',
      '# ipset restore',
      'destroy kplane-ipvs4-vip',
      '',
    ].join('\n'));
  });

  it('deletes kplane-ipvs0 when it holds no address', async () => {
    const executor = new FakeExecutor({
      'ipvsadm -S -n': '', 'ipset save': '', 'ip -o address show dev kplane-ipvs0': '',
      ...Object.fromEntries(['iptables', 'ip6tables'].flatMap((tool) => ['nat', 'filter'].map((table) => [`${tool} -w 5 -t ${table} -S`, '']))),
    });
    await ipvsProxy(executor).backend.cleanup();
    expect(executor.render()).toBe('# ip -batch -\nlink del kplane-ipvs0\n');
  });

  it('after a sync leaves the fake kernel as a fresh node\'s (chains before the sets they match on, or ipset refuses)', async () => {
    const { fake, backend, start } = fakeNode();
    await start(world().map(upsert));
    await backend.cleanup();
    const fresh = new FakeIpvsClient({ interfaces: NODE_INTERFACES });
    for (const [key, value] of fake.sysctls) fresh.sysctls.set(key, value);
    expect(fake.dump()).toBe(fresh.dump());
  });

  it('with ipvsadm uninstalled after a sync, still removes the rules, the sets and kplane-ipvs0', async () => {
    const { fake, backend, start } = fakeNode();
    await start(world().map(upsert));
    fake.missing.add('ipvsadm');
    await backend.cleanup();
    expect(fake.sets.dump()).toEqual([]);
    expect(fake.links.dump().filter((line) => line.startsWith('link '))).toEqual(['link eth0 up']);
    expect(fake.iptables.get(4)!.list('nat')).not.toContain('KPLANE-IPVS');
  });
});
