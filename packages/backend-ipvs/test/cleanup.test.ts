import { describe, expect, it } from 'vitest';
import { ToolMissingError, type Query } from '@kplane/core';
import { ScriptedExecutor } from './support/scripted-executor.js';
import { ipvsProxy } from './support/world.js';

/** A node where one tool is not installed: its reads fail as the real executor fails them (spawn ENOENT). */
class WithoutTool extends ScriptedExecutor {
  constructor(private readonly missing: string, listings: Record<string, string>) {
    super(listings);
  }

  override async read(query: Query): Promise<string> {
    if (query.tool === this.missing) throw new ToolMissingError(query.tool);
    return super.read(query);
  }
}

describe('ipvs cleanup, tool by tool', () => {
  it('without ipvsadm still removes the sets and the dummy interface', async () => {
    const executor = new WithoutTool('ipvsadm', {
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
});
