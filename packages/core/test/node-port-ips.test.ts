import { describe, expect, it } from 'vitest';
import { nodePortIPs } from '../src/config/node-port-ips.js';

describe('nodePortIPs', () => {
  it('is every local address without --nodeport-addresses, else the node IPs inside them', () => {
    const nodeIPs = ['192.0.2.10', '198.51.100.10', '2001:db8::10'];
    expect(nodePortIPs({ nodeIPs, nodePortAddresses: [] })).toBeNull();
    expect(nodePortIPs({ nodeIPs, nodePortAddresses: ['192.0.2.0/24', '2001:db8::/64'] })).toEqual(['192.0.2.10', '2001:db8::10']);
    expect(nodePortIPs({ nodeIPs, nodePortAddresses: ['203.0.113.0/24'] })).toEqual([]);
  });
});
