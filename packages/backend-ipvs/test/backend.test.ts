import { describe, expect, it } from 'vitest';
import { DryRunExecutor, ToolError, type Logger } from '@kplane/core';
import { FakeExecutor, readGolden, renderBatches, serviceObject, testProxy } from '@kplane/core/testing';
import { ExecIpvsClient, FakeIpvsClient, IpvsBackend, ipvsModule } from '../src/index.js';
import { CONFIG, endpoints, fakeNode, ipvsProxy, sctpWorld, synced, upsert, world } from './support/world.js';

const golden = (name: string): string => readGolden(new URL(`./golden/${name}`, import.meta.url));


describe('ipvs backend plans (golden)', () => {
  it('plans a fresh node in full: sysctls, sets swapped in, chains and jumps, virtual services, the dummy and its addresses', async () => {
    expect((await synced()).full).toBe(golden('full-sync.txt'));
  });

  it('programs an SCTP port like a TCP one: --sctp-service virtual services, sctp: set entries, shortcut rules that match sctp', async () => {
    expect((await synced(sctpWorld())).full).toBe(golden('sctp-sync.txt'));
  });

  it('on an endpoint change writes only that service\'s real servers: new ones before old ones leave, terminating ones drained at weight 0', async () => {
    const { engine, executor } = await synced();
    engine.handle([upsert(endpoints('web', ['a', 'b', 'r'], { terminating: ['a'] }))]);
    expect(await engine.sync()).toBe(true);
    // (r's hairpin entry for tcp:8080 is already there, for the edge Service.)
    expect(executor.render()).toBe([
      '# ipvsadm -R',
      '-a -t 10.96.0.10:80 -r 10.244.2.21:8080 -m -w 1',
      '-e -t 10.96.0.10:80 -r 10.244.1.11:8080 -m -w 0',
      '-a -t 192.168.50.1:30080 -r 10.244.2.21:8080 -m -w 1',
      '-e -t 192.168.50.1:30080 -r 10.244.1.11:8080 -m -w 0',
      '',
    ].join('\n'));
    expect(executor.batches.find((batch) => batch.tool === 'ipvsadm')?.failOnStderr).toBe(true);
  });

  it('removes a deleted Service in one sync: its set entries, its virtual services, then its addresses', async () => {
    const { engine, executor } = await synced();
    engine.handle([
      { action: 'delete', kind: 'Service', ref: 'default/ext' },
      { action: 'delete', kind: 'EndpointSlice', ref: 'default/ext-4' },
    ]);
    expect(await engine.sync()).toBe(true);
    expect(executor.render()).toBe([
      '# ipset restore -exist',
      'del kplane-ipvs4-cluster-ip 10.96.0.20,tcp:80',
      'del kplane-ipvs4-external 192.0.2.10,tcp:80',
      'del kplane-ipvs4-vip 10.96.0.20',
      'del kplane-ipvs4-vip 192.0.2.10',
      '# ipvsadm -R',
      '-D -t 10.96.0.20:80',
      '-D -t 192.0.2.10:80',
      '# ip -batch -',
      'address del 10.96.0.20/32 dev kplane-ipvs0',
      'address del 192.0.2.10/32 dev kplane-ipvs0',
      '',
    ].join('\n'));
  });

  it('rewrites only the shortcut chain when an externalTrafficPolicy Local frontend comes or goes', async () => {
    const { engine, executor } = await synced();
    engine.handle([upsert(serviceObject('edge', {
      clusterIPs: ['10.96.0.40'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.11'], externalTrafficPolicy: 'Cluster',
      ports: [{ name: 'p', port: 80, nodePort: 30081 }],
    }))]);
    expect(await engine.sync()).toBe(true);
    expect(executor.render()).toBe([
      '# ipset restore -exist',
      'add kplane-ipvs4-external 198.51.100.11,tcp:80',
      'add kplane-ipvs4-node-port 192.168.50.1,tcp:30081',
      'del kplane-ipvs4-external-local 198.51.100.11,tcp:80',
      'del kplane-ipvs4-node-port-local 192.168.50.1,tcp:30081',
      '# iptables-restore --noflush -w 5',
      '*nat',
      ':KPLANE-IPVS-LOCAL - [0:0]',
      'COMMIT',
      '# ipvsadm -R',
      '-a -t 192.168.50.1:30081 -r 10.244.2.21:8080 -m -w 1',
      '-a -t 198.51.100.11:80 -r 10.244.2.21:8080 -m -w 1',
      '',
    ].join('\n'));
  });

  it('edits a virtual service in place when its affinity changes, and uses the configured scheduler', async () => {
    const { engine, executor } = await synced(world(), { backendOptions: new Map([['scheduler', 'wrr']]) });
    engine.handle([upsert(serviceObject('web', { clusterIPs: ['10.96.0.10', 'fd00:10:96::10'], type: 'NodePort', ports: [{ name: 'p', port: 80, nodePort: 30080 }] }))]);
    expect(await engine.sync()).toBe(true);
    expect(executor.render()).toBe([
      '# ipvsadm -R',
      '-E -t 10.96.0.10:80 -s wrr',
      '-E -t 192.168.50.1:30080 -s wrr',
      '-E -t [fd00:10:96::10]:80 -s wrr',
      '-E -t [fd00:50::1]:30080 -s wrr',
      '',
    ].join('\n'));
  });

  it('answers NodePorts only on the addresses --nodeport-addresses allows', async () => {
    const { full } = await synced(world(), { nodePortAddresses: ['fd00:50::/64'] });
    expect(full).not.toContain('192.168.50.1:30080');
    expect(full).toContain('-A -t [fd00:50::1]:30080 -s rr -p 600');
  });

  it('refuses an unknown scheduler when the backend is created', () => {
    expect(() => ipvsProxy(new DryRunExecutor(), { backendOptions: new Map([['scheduler', 'random']]) }).backend).toThrow(/scheduler=random: expected one of rr, wrr/);
  });
});

describe('ipvs backend against a kernel that already has kplane\'s objects', () => {
  /** The listings a node shows after `full-sync.txt` was applied, plus a foreign virtual service and set. */
  const VIPS = ['10.96.0.10', '10.96.0.20', '10.96.0.30', '10.96.0.40', '10.96.0.53', '192.0.2.10', '198.51.100.10', '198.51.100.11', 'fd00:10:96::10'];
  const DUMMY_ADDRESSES = VIPS.map((ip) => ip.includes(':') ? `9: kplane-ipvs0    inet6 ${ip}/128 scope global nodad \\       valid_lft forever preferred_lft forever`
    : `9: kplane-ipvs0    inet ${ip}/32 scope global kplane-ipvs0\\       valid_lft forever preferred_lft forever`);
  /** `ip -o address show` of the node: its own interface, and the dummy with every service address. */
  const NODE_ADDRESSES = [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '2: eth0@if3    inet 192.168.50.1/24 brd 192.168.50.255 scope global eth0\\       valid_lft forever preferred_lft forever',
    '2: eth0@if3    inet6 fd00:50::1/64 scope global nodad \\       valid_lft forever preferred_lft forever',
    '2: eth0@if3    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever',
    ...DUMMY_ADDRESSES,
  ].join('\n');

  function programmedNode(extra: Record<string, string> = {}): FakeExecutor {
    const fullSync = golden('full-sync.txt');
    const services = fullSync.split('# ipvsadm -R\n')[1]!.split('# ip -batch -')[0]!;
    const sets = fullSync.split('\n')
      .filter((line) => (line.startsWith('create ') && !line.includes('~')) || line.startsWith('add '))
      .map((line) => line.replace('~ ', ' '));
    const rules = (family: 4 | 6, table: 'nat' | 'filter') => fullSync.split(`# ${family === 4 ? 'iptables' : 'ip6tables'}-restore --noflush -w 5\n`)[1]!
      .split(`*${table}\n`)[1]!.split('COMMIT')[0]!.split('\n')
      .map((line) => line.replace(/^:(\S+) - \[0:0\]$/, '-N $1').replace(/^-I /, '-A '));
    return new FakeExecutor({
      'ipvsadm -L -n': '',
      'ip -o address show': NODE_ADDRESSES,
      'ipvsadm -S -n': `${services}-A -t 10.99.0.1:80 -s wlc\n`,
      'ipset save': ['create foreign hash:ip family inet', ...sets].join('\n'),
      'ip -o address show dev kplane-ipvs0': DUMMY_ADDRESSES.join('\n'),
      ...Object.fromEntries(([4, 6] as const).flatMap((family) => (['nat', 'filter'] as const).map((table) => [
        `${family === 4 ? 'iptables' : 'ip6tables'} -w 5 -t ${table} -S`, rules(family, table).join('\n'),
      ]))),
      ...extra,
    });
  }

  it('a full sync of the same state writes nothing but the sysctls and the idempotent set creations', async () => {
    const executor = programmedNode();
    const { engine, backend } = ipvsProxy(executor);
    await backend.init();
    engine.handle(world().map(upsert));
    expect(await engine.sync()).toBe(true);
    expect(executor.batches.map((batch) => batch.tool)).toEqual(['sysctl', 'ipset', 'ip']);
    expect(executor.batches[1]!.input.split('\n').filter(Boolean).every((line) => line.startsWith('create '))).toBe(true);
    expect(executor.batches[2]!.input).toBe('link set kplane-ipvs0 up\n');
  });

  it('a full sync removes what the state no longer has and leaves foreign virtual services alone', async () => {
    const executor = programmedNode();
    const { engine, backend } = ipvsProxy(executor);
    await backend.init();
    engine.handle(world().filter((object) => !JSON.stringify(object).includes('"dns')).map(upsert));
    expect(await engine.sync()).toBe(true);
    const ipvsadm = executor.batches.find((batch) => batch.tool === 'ipvsadm')!.input;
    expect(ipvsadm).toBe('-D -u 10.96.0.53:53\n');
    const ipset = executor.batches.find((batch) => batch.tool === 'ipset')!.input;
    expect(ipset).toContain('swap kplane-ipvs4-cluster-ip~ kplane-ipvs4-cluster-ip\n');
    expect(ipset).not.toContain('10.96.0.53,udp:53');
    expect(ipset).not.toContain('foreign');
  });

  it('after a restart, NodePorts open only on the node\'s own addresses, not on the service addresses detection found on kplane-ipvs0', async () => {
    // What the CLI detects on such a node: every global address, the dummy's included.
    const detected = ['192.168.50.1', 'fd00:50::1', ...VIPS];
    const executor = programmedNode();
    const { engine, backend } = ipvsProxy(executor, { nodeIPs: detected });
    await backend.init();
    engine.handle(world().map(upsert));
    expect(await engine.sync()).toBe(true);
    // The kernel already is as wanted: no NodePort virtual service or set entry on a service address.
    expect(executor.batches.map((batch) => batch.tool)).toEqual(['sysctl', 'ipset', 'ip']);
  });

  it('keeps a node address that an external IP also put on kplane-ipvs0', async () => {
    const executor = programmedNode({ 'ip -o address show': `${NODE_ADDRESSES}\n9: kplane-ipvs0    inet 192.168.50.1/32 scope global kplane-ipvs0` });
    const { engine, backend } = ipvsProxy(executor);
    await backend.init();
    engine.handle(world().map(upsert));
    expect(await engine.sync()).toBe(true);
    expect(executor.batches.map((batch) => batch.tool)).toEqual(['sysctl', 'ipset', 'ip']);
  });

  it('cleanup removes exactly kplane\'s objects, found by their marks', async () => {
    const executor = programmedNode();
    const { backend } = ipvsProxy(executor);
    await backend.cleanup();
    expect(executor.render()).toBe(golden('cleanup.txt'));
  });
});

describe('ipvs backend start-up', () => {
  it('says clearly when the kernel has no IPVS', async () => {
    const { backend } = ipvsProxy(new FakeExecutor({}));
    await expect(backend.init()).rejects.toThrow(/IPVS is not usable on this node \(it needs the ip_vs kernel module and ipvsadm\)/);
  });

  /** A node with nothing of kplane's yet, whose kernel shows these IPVS protocol symbols (undefined: grep finds none). */
  function freshNode(symbols: string | undefined): FakeExecutor {
    return new FakeExecutor({
      'ipvsadm -L -n': '', 'ipvsadm -S -n': '', 'ipset save': '',
      'ip -o address show': '2: eth0    inet 192.168.50.1/24 brd 192.168.50.255 scope global eth0\\       valid_lft forever preferred_lft forever',
      ...Object.fromEntries(['iptables', 'ip6tables'].flatMap((tool) => ['nat', 'filter'].map((table) => [`${tool} -w 5 -t ${table} -S`, '']))),
      ...(symbols !== undefined && { 'grep -o -w -E ip_vs_protocol_(tcp|sctp) /proc/kallsyms': symbols }),
    });
  }

  it('skips only the SCTP ports when the kernel\'s IPVS cannot balance SCTP; the TCP port of the same Service is programmed', async () => {
    const executor = freshNode('ip_vs_protocol_tcp\n');
    const { engine, backend } = ipvsProxy(executor);
    await backend.init();
    expect(backend.features.has('SCTP')).toBe(false);
    engine.handle(sctpWorld().map(upsert));
    expect(await engine.sync()).toBe(true);
    const ipvsadm = executor.batches.find((batch) => batch.tool === 'ipvsadm')!.input;
    expect(ipvsadm).toContain('-A -t 10.96.0.60:3869 -s rr\n');
    expect(executor.render()).not.toMatch(/sctp/);
  });

  it('programs SCTP when the kernel\'s IPVS has its SCTP handler, and when the kernel does not tell', async () => {
    for (const symbols of ['ip_vs_protocol_tcp\nip_vs_protocol_sctp\n', undefined]) {
      const executor = freshNode(symbols);
      const { engine, backend } = ipvsProxy(executor);
      await backend.init();
      expect(backend.features.has('SCTP')).toBe(true);
      engine.handle(sctpWorld().map(upsert));
      expect(await engine.sync()).toBe(true);
      expect(executor.batches.find((batch) => batch.tool === 'ipvsadm')!.input).toContain('-A --sctp-service 10.96.0.60:3868 -s rr\n');
    }
  });

  it('logs each sysctl it chose, with the kernel and why', async () => {
    const logged: Record<string, unknown>[] = [];
    const logger = { info: (fields: Record<string, unknown>) => logged.push(fields) } as unknown as Logger;
    const executor = new DryRunExecutor();
    await new IpvsBackend(new ExecIpvsClient(executor), executor, CONFIG, logger, '5.4.0-150-generic').init();
    const sysctls = logged.filter((fields) => fields.sysctl !== undefined);
    expect(sysctls.map(({ sysctl, value }) => `${String(sysctl)}=${String(value)}`)).toEqual([
      'net.ipv4.vs.conntrack=1', 'net.ipv4.vs.conn_reuse_mode=0', 'net.ipv4.vs.expire_nodest_conn=1', 'net.ipv4.vs.expire_quiescent_template=1',
    ]);
    expect(sysctls.every((fields) => fields.kernel === '5.4.0-150-generic' && typeof fields.reason === 'string')).toBe(true);
  });

  it('reads the kernel release through its client (uname -r), not from the host; a dry run, which cannot, plans for a current kernel', async () => {
    const fake = new FakeIpvsClient({ kernelRelease: '5.4.0-150-generic' });
    await fakeNode({}, fake).start(world().map(upsert));
    expect(fake.sysctls.get('net.ipv4.vs.conn_reuse_mode')).toBe(0);
    const dryRun = testProxy(ipvsModule(), { config: CONFIG });
    expect(renderBatches(await dryRun.start(world().map(upsert)))).toContain('net.ipv4.vs.conn_reuse_mode = 1\n');
  });

  it('a failed batch makes the next sync list the kernel again', async () => {
    const executor = new FakeExecutor({ 'ipvsadm -S -n': '', 'ipset save': '', 'iptables -w 5 -t nat -S': '', 'iptables -w 5 -t filter -S': '', 'ip6tables -w 5 -t nat -S': '', 'ip6tables -w 5 -t filter -S': '' });
    const { engine } = ipvsProxy(executor);
    engine.handle(world().map(upsert));
    expect(await engine.sync()).toBe(true);
    executor.failNext((batch) => batch.tool === 'ipvsadm', new ToolError('ipvsadm', 0, 'Service not defined'));
    engine.handle([upsert(endpoints('web', ['b']))]);
    expect(await engine.sync()).toBe(false);
    const reads = executor.reads.length;
    expect(await engine.sync()).toBe(true);
    expect(executor.reads.slice(reads)).toContain('ipvsadm -S -n');
  });
});

