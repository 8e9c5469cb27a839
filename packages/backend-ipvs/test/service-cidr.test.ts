import { describe, expect, it } from 'vitest';
import { serviceObject } from '@kplane/core/testing';
import { synced, upsert, world } from './support/world.js';

const serviceCIDR = (cidrs: string[]) => upsert({ apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR', metadata: { name: 'kubernetes' }, spec: { cidrs } });


describe('ipvs backend: service CIDRs', () => {
  it('a full sync drops new connections forwarded or sent to a service-CIDR address that is no service address', async () => {
    const { full } = await synced(world(), { serviceCIDRs: ['10.96.0.0/12', 'fd00:10:96::/108'] });
    expect(full.split('\n').filter((line) => line.startsWith('-A KPLANE-IPVS-SVC-CIDRS'))).toEqual([
      '-A KPLANE-IPVS-SVC-CIDRS -d 10.96.0.0/12 -m set ! --match-set kplane-ipvs4-vip dst -m conntrack --ctstate NEW -j DROP',
      '-A KPLANE-IPVS-SVC-CIDRS -d fd00:10:96::/108 -m set ! --match-set kplane-ipvs6-vip dst -m conntrack --ctstate NEW -j DROP',
    ]);
  });

  it('a changed service CIDR rewrites that family\'s chain alone; a Service added inside it leaves the chain alone', async () => {
    const { engine, executor } = await synced();
    engine.handle([serviceCIDR(['10.96.0.0/12'])]);
    expect(await engine.sync()).toBe(true);
    expect(executor.render()).toBe([
      '# iptables-restore --noflush -w 5',
      '*filter',
      ':KPLANE-IPVS-SVC-CIDRS - [0:0]',
      '-A KPLANE-IPVS-SVC-CIDRS -d 10.96.0.0/12 -m set ! --match-set kplane-ipvs4-vip dst -m conntrack --ctstate NEW -j DROP',
      'COMMIT',
      '',
    ].join('\n'));
    executor.batches.length = 0;
    engine.handle([upsert(serviceObject('new', { clusterIPs: ['10.96.0.77'], ports: [{ name: 'p', port: 80 }] }))]);
    expect(await engine.sync()).toBe(true);
    expect(executor.batches.map((batch) => batch.tool)).not.toContain('iptables-restore');
  });
});
