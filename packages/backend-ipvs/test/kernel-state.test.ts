import { describe, expect, it } from 'vitest';
import { parseAddressListing } from '../src/kernel/address-listing.js';
import { connectionCounts } from '../src/kernel/connections.js';
import { ownedState, parseAddresses, parseIpsetSave, parseIpvsadmSave, type KernelListing } from '../src/kernel/kernel-state.js';
import { nodeAddresses } from '../src/kernel/node-addresses.js';
import { ipvsHasSctp } from '../src/kernel/sctp-support.js';

// Listings as the tools print them (captured in the test VM: Debian 12, ipvsadm 1.31, ipset 7.17, iproute2 6.1).
const IPVSADM_SAVE = [
  '-A -t 10.96.0.10:80 -s rr -p 10800',
  '-a -t 10.96.0.10:80 -r 10.244.1.11:8080 -m -w 1',
  '-a -t 10.96.0.10:80 -r 10.244.1.12:8080 -m -w 0',
  '-A -t 192.168.50.1:30080 -s rr',
  '-a -t 192.168.50.1:30080 -r 10.244.1.11:8080 -m -w 1',
  '-A -u 10.99.0.1:53 -s wlc',
  '-A -t [fd00:10:96::10]:80 -s rr',
  '-a -t [fd00:10:96::10]:80 -r [fd00:10:244:1::11]:8080 -m -w 1',
  '-A -f 7 -s rr',
  '-A --sctp-service 10.96.0.60:3868 -s rr',
  '-a --sctp-service 10.96.0.60:3868 -r 10.244.1.11:3868 -m -w 1',
  '',
].join('\n');

const IPSET_SAVE = [
  'create foreign hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1',
  'add foreign 10.96.0.10',
  'create kplane-ipvs4-cluster-ip hash:ip,port family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x2',
  'add kplane-ipvs4-cluster-ip 10.96.0.10,tcp:80',
  'create kplane-ipvs4-node-port hash:ip,port family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x3',
  'add kplane-ipvs4-node-port 192.168.50.1,tcp:30080',
  'add kplane-ipvs4-node-port 192.168.50.1,sctp:30868',
  'create kplane-ipvs4-node-port~ hash:ip,port family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x4',
  'create kplane-ipvs4-lb-src hash:ip,port,net family inet hashsize 1024 maxelem 1048576 bucketsize 12 initval 0x5',
  'add kplane-ipvs4-lb-src 198.51.100.10,tcp:80,192.168.50.0/24',
  '',
].join('\n');

const ADDRESSES = [
  '5: kplane-ipvs0    inet 10.96.0.10/32 scope global kplane-ipvs0\\       valid_lft forever preferred_lft forever',
  '5: kplane-ipvs0    inet6 fd00:10:96::10/128 scope global nodad \\       valid_lft forever preferred_lft forever',
  '5: kplane-ipvs0    inet6 fe80::88cb:3cff:fe5a:63eb/64 scope link \\       valid_lft forever preferred_lft forever',
  '',
].join('\n');

describe('kernel listings', () => {
  it('parses ipvsadm -S -n: services with scheduler, persistence and weighted real servers', () => {
    const services = parseIpvsadmSave(IPVSADM_SAVE);
    expect(services.map((service) => [service.key, service.scheduler, service.persistence, Object.fromEntries(service.reals)])).toEqual([
      ['-t 10.96.0.10:80', 'rr', 10800, { '10.244.1.11:8080': 1, '10.244.1.12:8080': 0 }],
      ['-t 192.168.50.1:30080', 'rr', null, { '10.244.1.11:8080': 1 }],
      ['-u 10.99.0.1:53', 'wlc', null, {}],
      ['-t [fd00:10:96::10]:80', 'rr', null, { '[fd00:10:244:1::11]:8080': 1 }],
      ['-f 7', 'rr', null, {}],
      ['--sctp-service 10.96.0.60:3868', 'rr', null, { '10.244.1.11:3868': 1 }],
    ]);
  });

  it('keeps only kplane-ipvs sets from ipset save', () => {
    expect(Object.fromEntries(parseIpsetSave(IPSET_SAVE))).toEqual({
      'kplane-ipvs4-cluster-ip': ['10.96.0.10,tcp:80'],
      'kplane-ipvs4-node-port': ['192.168.50.1,tcp:30080', '192.168.50.1,sctp:30868'],
      'kplane-ipvs4-node-port~': [],
      'kplane-ipvs4-lb-src': ['198.51.100.10,tcp:80,192.168.50.0/24'],
    });
  });

  it('reads the dummy interface\'s addresses without the kernel\'s link-local one', () => {
    expect(parseAddresses(ADDRESSES)).toEqual(['10.96.0.10', 'fd00:10:96::10']);
  });

  it('owns the virtual services on the dummy\'s addresses or recorded in its sets, and those the desired state names', () => {
    const listing: KernelListing = { services: parseIpvsadmSave(IPVSADM_SAVE), sets: parseIpsetSave(IPSET_SAVE), vips: parseAddresses(ADDRESSES) };
    const sctpNodePort = '-A --sctp-service 192.168.50.1:30868 -s rr\n';
    const owned = ownedState({ ...listing, services: parseIpvsadmSave(IPVSADM_SAVE + sctpNodePort) }, new Map(), (key) => key === '-f 7');
    // The SCTP node port is kplane's through its record in the node-port set; the SCTP cluster IP is not on the dummy.
    expect([...owned.services.keys()]).toEqual(['-t 10.96.0.10:80', '-t 192.168.50.1:30080', '-t [fd00:10:96::10]:80', '-f 7', '--sctp-service 192.168.50.1:30868']);
    expect([...owned.members]).toEqual([
      'kplane-ipvs4-cluster-ip 10.96.0.10,tcp:80',
      'kplane-ipvs4-node-port 192.168.50.1,tcp:30080',
      'kplane-ipvs4-node-port 192.168.50.1,sctp:30868',
      'kplane-ipvs4-lb-src 198.51.100.10,tcp:80,192.168.50.0/24',
    ]);
    expect(owned.dummy).toBe(true);
    expect(ownedState({ ...listing, vips: null }, new Map(), () => false).dummy).toBe(false);
  });
});

describe('connection counts for drains', () => {
  const LISTING = [
    'IP Virtual Server version 1.2.1 (size=4096)',
    'Prot LocalAddress:Port Scheduler Flags',
    '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
    'TCP  10.96.0.10:80 rr persistent 10800',
    '  -> 10.244.1.11:8080              Masq    0      2          3         ',
    '  -> 10.244.1.12:8080              Masq    1      7          0         ',
    'TCP  192.168.50.1:30080 rr',
    '  -> 10.244.1.11:8080              Masq    0      1          0         ',
    'TCP  10.99.0.1:80 rr',
    '  -> 10.244.1.11:8080              Masq    0      100        100       ',
    'TCP  [fd00:10:96::10]:80 rr',
    '  -> [fd00:10:244:1::11]:8080      Masq    0      0          4         ',
    'SCTP 10.96.0.60:3868 rr',
    '  -> 10.244.1.11:3868              Masq    0      1          0         ',
    '',
  ].join('\n');

  it('sums active and inactive connections of weight-0 real servers over kplane\'s virtual services', () => {
    const owned = new Set(['-t 10.96.0.10:80', '-t 192.168.50.1:30080', '-t [fd00:10:96::10]:80', '--sctp-service 10.96.0.60:3868']);
    expect(Object.fromEntries(connectionCounts(LISTING, (key) => owned.has(key)))).toEqual({
      '10.244.1.11:8080': 6,
      '[fd00:10:244:1::11]:8080': 4,
      '10.244.1.11:3868': 1,
    });
  });
});

describe('node addresses for NodePorts', () => {
  const LISTING = parseAddressListing([
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '3: ext0@if2    inet 192.168.50.1/24 brd 192.168.50.255 scope global ext0\\       valid_lft forever preferred_lft forever',
    '3: ext0@if2    inet6 fd00:50::1/64 scope global nodad \\       valid_lft forever preferred_lft forever',
    ADDRESSES,
    '5: kplane-ipvs0    inet 192.168.50.1/32 scope global kplane-ipvs0\\       valid_lft forever preferred_lft forever',
  ].join('\n'));

  it('reads every interface\'s addresses, a veth\'s name without its peer', () => {
    expect(LISTING.filter(({ scope }) => scope === 'global').map(({ device, address }) => `${device} ${address}`)).toEqual([
      'ext0 192.168.50.1', 'ext0 fd00:50::1', 'kplane-ipvs0 10.96.0.10', 'kplane-ipvs0 fd00:10:96::10', 'kplane-ipvs0 192.168.50.1',
    ]);
  });

  it('drops the addresses only kplane-ipvs0 holds, and keeps one another interface holds as well', () => {
    expect(nodeAddresses(['192.168.50.1', 'fd00:50::1', '10.96.0.10', 'fd00:10:96::10', '192.168.60.1'], LISTING)).toEqual({
      kept: ['192.168.50.1', 'fd00:50::1', '192.168.60.1'],
      dropped: ['10.96.0.10', 'fd00:10:96::10'],
    });
  });
});

describe('IPVS protocol handlers', () => {
  it('tells SCTP from /proc/kallsyms: present, missing beside TCP, or unknown when neither shows', () => {
    expect(ipvsHasSctp('ip_vs_protocol_tcp\nip_vs_protocol_sctp\n')).toBe(true);
    expect(ipvsHasSctp('ip_vs_protocol_tcp\n')).toBe(false);
    expect(ipvsHasSctp('')).toBe(null);
  });
});
