import { describe, expect, it } from 'vitest';
import { parseListing, parseTables } from '../src/client/listing.js';

/** nft 1.0.6's own output (captured in a namespace): tabs, wrapped elements, a base chain's hook line. */
const MAP = [
  'table ip kplane {',
  '\tmap endpoints-tcp-g1 {',
  '\t\ttypeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . tcp dport',
  '\t\telements = { 192.0.2.1 . tcp . 80 . 0 : 10.244.1.4 . 8080,',
  '\t\t\t     10.96.0.10 . tcp . 80 . 1 : 10.244.1.2 . 8080 }',
  '\t}',
  '\tset firewall-allow-g1 {',
  '\t\ttypeof ip daddr . meta l4proto . th dport . ip saddr',
  '\t\tflags interval',
  '\t}',
  '\tchain nat-prerouting {',
  '\t\ttype nat hook prerouting priority dstnat; policy accept;',
  '\t\tjump services-g1',
  '\t}',
  '\tchain reject-g1 {',
  '\t\treject with tcp reset',
  '\t\treject',
  '\t}',
  '}',
].join('\n');

const CHAINS = [
  'table ip foreign {',
  '\tchain input {',
  '\t\ttype filter hook input priority filter; policy accept;',
  '\t}',
  '}',
  'table ip kplane {',
  '\tchain filter-input {',
  '\t\ttype filter hook input priority -110; policy accept;',
  '\t}',
  '\tchain services-g1 {',
  '\t}',
  '}',
  'table ip6 kplane {',
  '\tchain services-g1 {',
  '\t}',
  '}',
].join('\n');

describe('nft listings', () => {
  it('a table with its elements: wrapped elements, an empty set, base chains and rules', () => {
    const listing = parseListing(MAP, true);
    expect(listing.sets.get('endpoints-tcp-g1')).toEqual({
      kind: 'map',
      elements: new Map([['192.0.2.1 . tcp . 80 . 0', '10.244.1.4 . 8080'], ['10.96.0.10 . tcp . 80 . 1', '10.244.1.2 . 8080']]),
    });
    expect(listing.sets.get('firewall-allow-g1')).toEqual({ kind: 'set', elements: new Map() });
    expect(listing.chains.get('nat-prerouting')).toEqual({ base: { type: 'nat', hook: 'prerouting' }, rules: ['jump services-g1'] });
    expect(listing.chains.get('reject-g1')).toEqual({ rules: ['reject with tcp reset', 'reject'] });
  });

  it('a terse listing has no elements', () => {
    expect(parseListing(MAP, false).sets.get('firewall-allow-g1')).toEqual({ kind: 'set' });
  });

  it('nft list chains: every table of every family, chains with hooks and no rules', () => {
    const tables = parseTables(CHAINS, { rules: false, elements: false });
    expect([...tables.keys()]).toEqual(['ip foreign', 'ip kplane', 'ip6 kplane']);
    expect(tables.get('ip kplane')!.chains).toEqual(new Map([['filter-input', { base: { type: 'filter', hook: 'input' } }], ['services-g1', {}]]));
  });
});
