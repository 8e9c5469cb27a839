import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, DryRunExecutor, createLogger, createProxy, type SourceEvent } from '@kplane/core';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { SANDBOX_NETWORK, Sandbox } from '@kplane/conformance';
import nft from '../src/index.js';

const CONFIG = { ...DEFAULT_CONFIG, nodeName: SANDBOX_NETWORK.nodeName, nodeIPs: SANDBOX_NETWORK.nodeIPs, clusterCIDRs: SANDBOX_NETWORK.clusterCIDRs };

function service(name: string, ip: string, endpoint: string): SourceEvent[] {
  return [
    upsert(serviceObject(name, { clusterIPs: [ip], type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30000 + Number(ip.split('.')[3]) }] })),
    upsert(endpointSliceObject(name, { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: endpoint, nodeName: SANDBOX_NETWORK.nodeName }] })),
  ];
}

/**
 * `kplane plan --diff` in a sandbox's node namespace: an agent programs two Services; a fresh
 * proxy on a dry-run executor that reads the real kernel plans the same state (or another) and
 * diffs it against what is there, as the CLI does. A later generation is no drift; a missing
 * Service, a deleted element and a flushed chain are.
 */
describe('nft: kplane plan --diff', () => {
  let sandbox: Sandbox;
  const state = (): SourceEvent[] => [...service('web', '10.96.7.1', sandbox.pod('a').ipv4), ...service('api', '10.96.7.2', sandbox.pod('b').ipv4)];

  async function planDiff(events: readonly SourceEvent[]): Promise<readonly string[]> {
    const plan = createProxy({ config: CONFIG, executor: new DryRunExecutor(sandbox.executor), logger: createLogger('silent') }, nft);
    await plan.backend.init();
    plan.engine.handle(events);
    expect(await plan.engine.sync()).toBe(true);
    return plan.backend.diff!();
  }

  beforeAll(async () => {
    sandbox = await Sandbox.create(undefined, `kpd${Math.random().toString(16).slice(2, 6)}`);
    const agent = createProxy({ config: CONFIG, executor: sandbox.executor, logger: createLogger('silent') }, nft);
    await agent.backend.init();
    agent.engine.handle(state());
    expect(await agent.engine.sync()).toBe(true);
    // A second full sync: the kernel's generation is now 2, a fresh plan's 3.
    agent.engine.handle([]);
    expect(await agent.engine.sync()).toBe(true);
  }, 60_000);

  afterAll(async () => {
    await sandbox?.destroy();
  });

  it('finds no drift where the kernel holds the plan (at another generation)', async () => {
    expect(await planDiff(state())).toEqual([]);
  });

  it('finds what the plan has and the kernel lacks: a new Service', async () => {
    const drift = await planDiff([...state(), ...service('new', '10.96.7.3', sandbox.pod('a').ipv4)]);
    expect(drift.length).toBeGreaterThan(0);
    expect(drift.every((line) => line.startsWith('ip: ') && line.includes('lacks'))).toBe(true);
    expect(drift.join('\n')).toContain('10.96.7.3');
  });

  it('finds what was changed from outside: a deleted element, a flushed chain', async () => {
    const listing = await sandbox.inNode('nft', ['list', 'table', 'ip', 'kplane']);
    const map = /map (service-ips-g\d+) /.exec(listing)![1]!;
    const chain = /chain (services-g\d+) /.exec(listing)![1]!;
    const element = /10\.96\.7\.2 \. tcp \. 80 : [^,\n}]+/.exec(listing)![0].split(' : ')[0]!;
    await sandbox.inNode('nft', ['delete', 'element', 'ip', 'kplane', map, `{ ${element} }`]);
    await sandbox.inNode('nft', ['flush', 'chain', 'ip', 'kplane', chain]);
    const drift = await planDiff(state());
    expect(drift).toContain(`ip: ${map} lacks ${element}`);
    expect(drift).toContainEqual(expect.stringMatching(new RegExp(`^ip: chain ${chain} has 0 rules, kplane wrote \\d+$`)));
  });
});
