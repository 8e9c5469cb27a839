import { describe, expect, it } from 'vitest';
import { FEATURES, type Feature, type ServicePort } from '../src/index.js';
import { fitToFeatures } from '../src/backend/features.js';
import { validateService } from '../src/validation/validate.js';
import { serviceObject, type ServiceSpec } from '../src/testing/index.js';

function port(spec: ServiceSpec): ServicePort {
  const result = validateService(serviceObject('web', spec));
  if (!result.ok) throw result.error;
  return result.value.ports[0]!;
}

const all = new Set<Feature>(FEATURES);
const without = (...missing: Feature[]) => new Set(FEATURES.filter((feature) => !missing.includes(feature)));
const loadBalancer: ServiceSpec = {
  type: 'LoadBalancer', clusterIPs: ['10.96.0.10', 'fd00::10'], ports: [{ name: 'http', port: 80, nodePort: 30080 }],
  externalIPs: ['192.0.2.1'], loadBalancerIPs: ['198.51.100.1'], loadBalancerSourceRanges: ['203.0.113.0/24'],
};

describe('fitToFeatures', () => {
  it('keeps a port whole when the backend has everything it needs', () => {
    const whole = port(loadBalancer);
    expect(fitToFeatures(whole, all)).toEqual({ port: whole, losses: [] });
  });

  it('leaves out a port whose protocol, affinity or internal traffic policy the backend lacks', () => {
    expect(fitToFeatures(port({ clusterIPs: ['10.96.0.10'], ports: [{ port: 9, protocol: 'SCTP' }] }), without('SCTP')))
      .toEqual({ port: null, losses: [{ scope: 'port', feature: 'SCTP' }] });
    expect(fitToFeatures(port({ clusterIPs: ['10.96.0.10'], ports: [{ port: 80 }], affinitySeconds: 60 }), without('SessionAffinity')).port).toBeNull();
    expect(fitToFeatures(port({ clusterIPs: ['10.96.0.10'], ports: [{ port: 80 }], internalTrafficPolicy: 'Local' }), without('InternalTrafficPolicyLocal')).port).toBeNull();
  });

  it('takes away only the frontends the backend lacks, and the rest of the port stays', () => {
    const fitted = fitToFeatures(port(loadBalancer), without('NodePort', 'ExternalIP'));
    expect(fitted.port).toMatchObject({ clusterIPs: ['10.96.0.10', 'fd00::10'], nodePort: null, externalIPs: [], loadBalancerIPs: ['198.51.100.1'] });
    expect(fitted.losses).toEqual([{ scope: 'frontend', feature: 'NodePort' }, { scope: 'frontend', feature: 'ExternalIP' }]);
  });

  it('never opens load-balancer IPs to everyone when their source ranges cannot be enforced', () => {
    expect(fitToFeatures(port(loadBalancer), without('LoadBalancerSourceRanges')).port).toMatchObject({ loadBalancerIPs: [], nodePort: 30080 });
  });

  it('drops the external frontends, not the cluster IPs, without externalTrafficPolicy Local', () => {
    const fitted = fitToFeatures(port({ ...loadBalancer, externalTrafficPolicy: 'Local', healthCheckNodePort: 32000 }), without('ExternalTrafficPolicyLocal'));
    expect(fitted.port).toMatchObject({ clusterIPs: ['10.96.0.10', 'fd00::10'], nodePort: null, externalIPs: [], loadBalancerIPs: [] });
    expect(fitted.losses).toEqual([{ scope: 'frontend', feature: 'ExternalTrafficPolicyLocal' }]);
  });

  it('leaves out the addresses of a family the backend lacks, and the port when no cluster IP is left', () => {
    expect(fitToFeatures(port(loadBalancer), without('IPv6')).port).toMatchObject({ clusterIPs: ['10.96.0.10'] });
    expect(fitToFeatures(port({ clusterIPs: ['fd00::10'], ports: [{ port: 80 }] }), without('IPv6')))
      .toEqual({ port: null, losses: [{ scope: 'port', feature: 'IPv6' }] });
  });
});
