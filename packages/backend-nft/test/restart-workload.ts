import type { SourceEvent } from '@kplane/core';
import { eps, svc } from './support.js';

/** Services of every kind the table holds: cluster IPs of both families, UDP, a node port with eTP Local, a load balancer with source ranges, affinity. */
export function workload(moved = false): SourceEvent[] {
  return [
    svc('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'] }), eps('web', ['10.244.1.1', '10.244.1.2']), eps('web', ['fd00:10:244::1'], { name: 'web-v6' }),
    svc('dns', { clusterIPs: ['10.96.0.53'] }, 'UDP'), eps('dns', [moved ? '10.244.1.9' : '10.244.1.3'], { protocol: 'UDP' }),
    svc('np', { clusterIPs: ['10.96.0.20'], type: 'NodePort', externalTrafficPolicy: 'Local' }), eps('np', ['10.244.1.4', '10.244.2.5'], { nodeName: 'node-b' }),
    svc('lb', { clusterIPs: ['10.96.0.30'], type: 'LoadBalancer', loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24'] }), eps('lb', ['10.244.1.4']),
    svc('sticky', { clusterIPs: ['10.96.0.40'], affinitySeconds: 600 }), eps('sticky', moved ? ['10.244.1.6', '10.244.1.8'] : ['10.244.1.6', '10.244.1.7']),
    ...Array.from({ length: 50 }, (_, i) => [svc(`bulk-${i}`, { clusterIPs: [`10.96.1.${i + 1}`] }), eps(`bulk-${i}`, [`10.244.3.${i + 1}`])]).flat(),
  ];
}
