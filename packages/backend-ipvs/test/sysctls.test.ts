import { describe, expect, it } from 'vitest';
import { ipvsSysctls, kernelVersion } from '../src/index.js';
import { sysctlValues } from '../src/kernel/sysctls.js';

const values = (release: string) => Object.fromEntries(ipvsSysctls(release).map((choice) => [choice.key.replace('net.ipv4.vs.', ''), choice.value]));

describe('IPVS sysctls by kernel version (seed 001)', () => {
  it.each([
    ['3.10.0-1160.el7.x86_64', null],
    ['4.0.9', null],
    ['4.1.0', 0],
    ['4.19.0-26-amd64', 0],
    ['5.8.18', 0],
    ['5.9.0', 1],
    ['6.1.0-50-amd64', 1],
    ['6.18.44-fc-v669', 1],
  ])('kernel %s: conn_reuse_mode %s, and conntrack, expire_nodest_conn, expire_quiescent_template on', (release, reuse) => {
    expect(values(release)).toEqual({ conntrack: 1, conn_reuse_mode: reuse, expire_nodest_conn: 1, expire_quiescent_template: 1 });
  });

  it('says why for each value', () => {
    for (const choice of ipvsSysctls('5.4.0')) expect(choice.reason.length).toBeGreaterThan(20);
    expect(ipvsSysctls('5.4.0').find((choice) => choice.key.endsWith('conn_reuse_mode'))!.reason).toContain('1 s');
  });

  it('writes only the values it sets', () => {
    expect(Object.fromEntries(sysctlValues(ipvsSysctls('4.0.0')))).toEqual({
      'net.ipv4.vs.conntrack': 1,
      'net.ipv4.vs.expire_nodest_conn': 1,
      'net.ipv4.vs.expire_quiescent_template': 1,
    });
  });

  it('reads major and minor from a release, and refuses what is not one', () => {
    expect(kernelVersion('6.1.0-50-amd64')).toEqual([6, 1]);
    expect(kernelVersion('5.10.226-214.880.amzn2.x86_64')).toEqual([5, 10]);
    expect(() => kernelVersion('unknown')).toThrow(/kernel version/);
  });
});
