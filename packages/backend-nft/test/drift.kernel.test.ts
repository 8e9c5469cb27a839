import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, createLogger, createProxy, type Proxy } from '@kplane/core';
import { endpointSliceObject, serviceObject, upsert } from '@kplane/core/testing';
import { NetnsExecutor, SANDBOX_NETWORK, Sandbox } from '@kplane/conformance';
import { execa } from 'execa';
import nft, { ExecNftClient } from '../src/index.js';
import { CONFIG, eps, fakeProxy, svc } from './support.js';

const SERVICE_IP = '10.96.7.1';
/** Services beside web. */
const FILLERS = 300;
/** Tampering must be repaired this fast with the default flags (issue 15). */
const REPAIR_MS = 10_000;
const FOREIGN = `table ip foreign {
	set blocked {
		type ipv4_addr
		elements = { 192.0.2.99 }
	}

	chain input {
		type filter hook input priority filter; policy accept;
		ip saddr @blocked drop
	}
}
`;

/**
 * Tampering from outside, in a sandbox of network namespaces: kplane's agent (the engine on the
 * real clock with the default --audit-period, the real ExecNftClient) programs a Service; someone
 * deletes its table, flushes one of its chains, deletes a map element; the audit finds each and the
 * full sync it triggers restores traffic within 10 s. A foreign table beside kplane's is never touched.
 */
describe('nft: drift from outside is repaired', () => {
  let sandbox: Sandbox;
  let proxy: Proxy;
  const nftInNode = (...args: string[]): Promise<string> => sandbox.inNode('nft', args);
  const generation = async (): Promise<string> => /chain services-g(\d+) /.exec(await nftInNode('-t', 'list', 'table', 'ip', 'kplane'))![1]!;

  /** True when a client pod's connection to the Service reaches the endpoint. */
  const reaches = async (): Promise<boolean> => (await sandbox.client.tcp(SERVICE_IP, 80, { timeoutMs: 300 })).ok;

  /** Milliseconds until traffic works again; fails past REPAIR_MS (plus the probe's own timeout). */
  async function timeToRepair(): Promise<number> {
    const started = Date.now();
    while (!(await reaches())) {
      if (Date.now() - started > REPAIR_MS) throw new Error(`traffic to ${SERVICE_IP} not restored within ${REPAIR_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return Date.now() - started;
  }

  const many = Array.from({ length: FILLERS }, (_, i) => [svc(`s${i}`, { clusterIPs: [`10.97.${i >> 8}.${i & 255}`] }), eps(`s${i}`, [`10.245.${i >> 8}.${i & 255}`])]).flat();

  beforeAll(async () => {
    sandbox = await Sandbox.create();
    await sandbox.inNode('nft', ['-f', '-'], FOREIGN);
    const config = {
      ...DEFAULT_CONFIG,
      nodeName: SANDBOX_NETWORK.nodeName,
      nodeIPs: SANDBOX_NETWORK.nodeIPs,
      clusterCIDRs: SANDBOX_NETWORK.clusterCIDRs,
    };
    proxy = createProxy({ config, executor: sandbox.executor, logger: createLogger(process.env.KPLANE_LOG ?? 'silent') }, nft);
    await proxy.backend.init();
    proxy.engine.handle([
      upsert(serviceObject('web', { clusterIPs: [SERVICE_IP], ports: [{ name: 'http', port: 80, targetPort: 8080 }] })),
      upsert(endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: [{ ip: sandbox.pod('a').ipv4, nodeName: SANDBOX_NETWORK.nodeName }] })),
      // A table too big to list whole every period (more than 200 service ports): a deleted element
      // or a flushed chain has to be seen (nft monitor), not found by reading slices in turn.
      ...many.slice(0, 2 * FILLERS),
    ]);
    proxy.engine.start();
    await timeToRepair();
  }, 60_000);

  afterAll(async () => {
    await proxy?.engine.stop();
    await proxy?.backend.cleanup().catch(() => {});
    await sandbox?.destroy();
  });

  it('the audit finds nothing in the table kplane wrote (nft\'s own spelling of rules and elements)', async () => {
    expect(await proxy.backend.audit!()).toEqual([]);
    // The engine's first audit has listed the tables whole (the monitor had only just started); wait for it.
    await new Promise((resolve) => setTimeout(resolve, DEFAULT_CONFIG.auditPeriodMs + 1000));
  }, 20_000);

  const tampering: [string, (g: string) => string[]][] = [
    ['nft delete table ip kplane', () => ['delete', 'table', 'ip', 'kplane']],
    ['nft flush chain of kplane\'s services chain', (g) => ['flush', 'chain', 'ip', 'kplane', `services-g${g}`]],
    ['nft delete element of the endpoint map', (g) => ['delete', 'element', 'ip', 'kplane', `endpoints-tcp-g${g}`, `{ ${SERVICE_IP} . tcp . 80 . 0 }`]],
    ['nft delete element of the service map', (g) => ['delete', 'element', 'ip', 'kplane', `service-ips-g${g}`, `{ ${SERVICE_IP} . tcp . 80 }`]],
  ];
  for (const [index, [name, command]] of tampering.entries()) {
    it(`${name}: traffic stops, and works again within 10 s`, async () => {
      expect(await reaches()).toBe(true);
      await nftInNode(...command(await generation()));
      expect(await reaches()).toBe(false);
      const ms = await timeToRepair();
      expect(ms).toBeLessThan(REPAIR_MS);
      const drift = await proxy.metrics.registry.getSingleMetricAsString('kplane_drift_detected_total');
      expect(drift).toContain(`kplane_drift_detected_total{backend="nft"} ${index + 1}`);
      expect(await proxy.backend.audit!()).toEqual([]);
    }, 30_000);
  }

  it('the foreign table in the same namespace is untouched', async () => {
    expect(await nftInNode('list', 'table', 'ip', 'foreign')).toBe(FOREIGN.trimEnd());
  });
});

/**
 * No false drift: nft lists rules and elements in its own spelling, and an audit that misreads them
 * would make a full sync every period. Every kind of service, in a small table (listed whole) and a
 * big one (a whole turn of deep audits: the backend runs on a FakeClock, so every audit is deep).
 */
describe('nft: the audit of what kplane wrote finds nothing', () => {
  const namespace = `kpdrift${Date.now().toString(36).slice(-5)}`;
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', namespace]);
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'delete', namespace], { reject: false });
  });

  const mixed = [
    svc('web', { type: 'NodePort', clusterIPs: ['10.96.0.10', 'fd00:96::10'] }), eps('web', ['10.244.1.1', '10.244.1.2']), eps('web', ['fd00:10:244:1::1'], { name: 'web-v6' }),
    svc('dns', { clusterIPs: ['10.96.0.53', 'fd00:96::53'] }, 'UDP'), eps('dns', ['10.244.1.3'], { protocol: 'UDP' }),
    svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.0.20'], externalIPs: ['192.0.2.1'], loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24', '192.0.2.7/32'], externalTrafficPolicy: 'Local' }),
    eps('lb', ['10.244.1.4']), eps('lb', ['10.244.2.5'], { nodeName: 'node-b', name: 'lb-remote' }),
    svc('sticky', { clusterIPs: ['10.96.0.30', 'fd00:96::30'], affinitySeconds: 600 }), eps('sticky', ['10.244.1.6', '10.244.1.7']),
    svc('signal', { clusterIPs: ['10.96.0.40'] }, 'SCTP'), eps('signal', ['10.244.1.8'], { protocol: 'SCTP' }),
    svc('empty', { clusterIPs: ['10.96.0.50'] }),
  ];
  const many = Array.from({ length: 300 }, (_, i) => [svc(`s${i}`, { clusterIPs: [`10.97.${i >> 8}.${i & 255}`] }), eps(`s${i}`, [`10.245.${i >> 8}.${i & 255}`])]).flat();

  for (const [name, events] of [['a small table', mixed], ['a big table, over a whole turn', [...mixed, ...many]]] as const) {
    it(name, async () => {
      for (const family of ['ip', 'ip6']) await execa('ip', ['netns', 'exec', namespace, 'nft', 'delete', 'table', family, 'kplane'], { reject: false });
      const proxy = fakeProxy(CONFIG, () => new ExecNftClient(new NetnsExecutor(namespace)));
      await proxy.start(events);
      for (let audit = 0; audit < 2 * 25; audit++) expect(await proxy.backend.audit!()).toEqual([]);
    }, 120_000);
  }
});
