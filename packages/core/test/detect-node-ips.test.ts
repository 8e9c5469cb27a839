import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { detectNodeIPs } from '../src/cli/proxy-options.js';

const address = (ip: string, internal = false): NetworkInterfaceInfo => (ip.includes(':')
  ? { address: ip, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal, cidr: `${ip}/64`, scopeid: 0 }
  : { address: ip, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${ip}/24` });

describe('detectNodeIPs', () => {
  it('takes global addresses of the node\'s interfaces, never those of kplane\'s own (the ipvs dummy holds every VIP)', () => {
    expect(detectNodeIPs({
      lo: [address('127.0.0.1', true), address('::1', true)],
      eth0: [address('192.0.2.10'), address('2001:db8::10'), address('fe80::1')],
      'kplane-ipvs0': [address('10.96.0.10'), address('10.96.0.11'), address('fd00:10:96::10')],
    })).toEqual(['192.0.2.10', '2001:db8::10']);
  });
});
