import { describe, expect, it } from 'vitest';
import { IptablesTransaction, ToolError } from '@kplane/core';
import { FakeIpvsClient, IpsetTransaction, IpTransaction, IpvsadmTransaction } from '../src/index.js';
import { parseAddresses, parseIpsetSave, parseIpvsadmSave } from '../src/kernel/kernel-state.js';
import { connectionCounts } from '../src/kernel/connections.js';
import { endpoints, fakeNode, upsert, world } from './support/world.js';

describe('FakeIpvsClient: the tools\' text in, kernel-like state and listings out', () => {
  it('lists what it was given in the tools\' formats, which the backend\'s parsers read back', async () => {
    const fake = new FakeIpvsClient();
    await fake.restoreSets(new IpsetTransaction(true).create('kplane-ipvs4-vip', 'hash:ip', 4, 'hashsize 1024 maxelem 1048576').add('kplane-ipvs4-vip', '10.96.0.10'));
    await fake.restoreServices(new IpvsadmTransaction()
      .addService({ key: '-t 10.96.0.10:80', scheduler: 'rr', persistence: 600 })
      .addReal('-t 10.96.0.10:80', '10.244.1.11:8080', 1)
      .addReal('-t 10.96.0.10:80', '10.244.1.12:8080', 0));
    await fake.runIp(new IpTransaction().addDummy('kplane-ipvs0').setUp('kplane-ipvs0').addAddress('10.96.0.10/32', 'kplane-ipvs0').addAddress('fd00:10:96::10/128', 'kplane-ipvs0'));
    fake.services.setConnections('-t 10.96.0.10:80', '10.244.1.12:8080', 2, 3);

    expect(parseIpvsadmSave(await fake.saveServices()).map(({ key, scheduler, persistence, reals }) => [key, scheduler, persistence, Object.fromEntries(reals)])).toEqual([
      ['-t 10.96.0.10:80', 'rr', 600, { '10.244.1.11:8080': 1, '10.244.1.12:8080': 0 }],
    ]);
    expect(Object.fromEntries(parseIpsetSave(await fake.saveSets()))).toEqual({ 'kplane-ipvs4-vip': ['10.96.0.10'] });
    // The kernel's link-local address of the dummy is listed, and left out by the parser.
    expect(await fake.listAddresses('kplane-ipvs0')).toContain('scope link');
    expect(parseAddresses((await fake.listAddresses('kplane-ipvs0'))!)).toEqual(['10.96.0.10', 'fd00:10:96::10']);
    expect(await fake.listAddresses('nothing0')).toBe(null);
    expect(Object.fromEntries(connectionCounts(await fake.listServices(), () => true))).toEqual({ '10.244.1.12:8080': 5 });
  });

  it('refuses what the kernel refuses; ipvsadm goes on after a refused line, ipset and ip stop at it', async () => {
    const fake = new FakeIpvsClient();
    await expect(fake.restoreServices(new IpvsadmTransaction().addReal('-t 10.96.0.10:80', '10.244.1.11:8080', 1).addService({ key: '-u 10.96.0.53:53', scheduler: 'rr', persistence: null })))
      .rejects.toThrow(/Service not defined/);
    expect(await fake.saveServices()).toBe('-A -u 10.96.0.53:53 -s rr\n');

    const sets = new IpsetTransaction(false).create('a', 'hash:ip', 4, 'hashsize 64').add('a', '10.0.0.1').add('a', 'fd00::1').add('a', '10.0.0.2');
    await expect(fake.restoreSets(sets)).rejects.toThrow(/Error in line 3: Syntax error: 'fd00::1'/);
    expect(await fake.saveSets()).toContain('add a 10.0.0.1\n');
    expect(await fake.saveSets()).not.toContain('10.0.0.2');

    await expect(fake.runIp(new IpTransaction().addAddress('10.96.0.10/32', 'kplane-ipvs0'))).rejects.toThrow(/Cannot find device "kplane-ipvs0"/);
    await expect(fake.restoreRules(4, new IptablesTransaction().writeChain('filter', 'KPLANE-IPVS-X', ['-m set --match-set missing dst -j DROP']))).rejects.toThrow(/Set missing doesn't exist/);
    await fake.restoreRules(4, new IptablesTransaction().writeChain('filter', 'KPLANE-IPVS-X', ['-m set --match-set a dst -j DROP']));
    await expect(fake.restoreSets(new IpsetTransaction(false).destroy('a'))).rejects.toThrow(/in use by a kernel component/);
  });

  it('fails the batch it was told to, after the lines it lets through, with a ToolError', async () => {
    const fake = new FakeIpvsClient().failNext('ipset', 1);
    const error = await fake.restoreSets(new IpsetTransaction(true).create('a', 'hash:ip', 4, 'hashsize 64').add('a', '10.0.0.1')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ToolError);
    expect(await fake.saveSets()).toMatch(/^create a hash:ip family inet hashsize 64 .*\n$/);
    await fake.restoreSets(new IpsetTransaction(true).add('a', '10.0.0.1'));
    expect(await fake.saveSets()).toContain('add a 10.0.0.1\n');
  });

  it('a node the backend synced lists back as converged: the next full sync writes only the sysctls, the idempotent set creations and `link set up`', async () => {
    const { fake, clock, config, start, sync } = fakeNode();
    await start(world().map(upsert));
    const sent = fake.batches.length;
    await clock.advance(config.syncPeriodMs);
    await sync();
    const batches = fake.batches.slice(sent);
    expect(batches.map(({ tool }) => tool)).toEqual(['sysctl', 'ipset', 'ip']);
    expect(batches[1]!.input.split('\n').filter(Boolean).every((line) => line.startsWith('create '))).toBe(true);
    expect(batches[2]!.input).toBe('link set kplane-ipvs0 up\n');
  });
});

describe('ipvs drains against the fake', () => {
  it('counts the connections of a draining real server in kplane\'s virtual services from one ipvsadm -L -n', async () => {
    const { fake, engine, backend, start, sync } = fakeNode();
    await start(world().map(upsert));
    await sync([upsert(endpoints('web', ['b']))]);
    const draining = [...engine.desiredState.values()].flatMap((port) => port.draining);
    expect(draining.map(({ ip, port }) => `${ip}:${port}`)).toEqual(['10.244.1.11:8080']);
    expect(await fake.saveServices()).toContain('-a -t 10.96.0.10:80 -r 10.244.1.11:8080 -m -w 0\n');
    fake.services.setConnections('-t 10.96.0.10:80', '10.244.1.11:8080', 1, 2);
    expect(Object.fromEntries(await backend.activeConnections(draining))).toEqual({ '10.244.1.11:8080': 3 });
  });
});
