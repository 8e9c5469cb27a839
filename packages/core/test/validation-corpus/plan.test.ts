import { describe, expect, it } from 'vitest';
import { ipFamily, loadBuiltinBackend, type ProxyConfig, type ServicePort, type SourceEvent } from '../../src/index.js';
import { fitToFeatures } from '../../src/backend/features.js';
import { validateService } from '../../src/validation/validate.js';
import { testProxy, upsert } from '../../src/testing/index.js';
import { loadCorpus } from './corpus.js';

/**
 * Every Service of the corpus that the API server accepts, with an EndpointSlice per family, planned
 * by each built-in backend as `kplane plan` does (DryRunExecutor): the plan must program each of
 * their cluster IPs, on every port the backend supports.
 */
const CONFIG: Partial<ProxyConfig> = {
  nodeIPs: ['192.168.0.10', 'fd00:1::10'],
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
};

const corpus = loadCorpus().filter((entry) => entry.expect === 'accept');
const services = corpus.filter((entry) => entry.object.kind === 'Service').map((entry) => {
  const result = validateService(entry.object);
  if (!result.ok) throw result.error;
  return { entry, ports: result.value.ports };
});

/** One slice per family of the Service's cluster IPs, one ready endpoint on this node, every port named as the Service's. */
function slicesFor(name: string, ports: readonly ServicePort[]): SourceEvent[] {
  const families = [...new Set(ports.flatMap((port) => port.clusterIPs.map((ip) => ipFamily(ip))))];
  return families.map((family, index) => upsert({
    kind: 'EndpointSlice',
    metadata: { name: `${name}-${family}`, namespace: ports[0]!.service.split('/')[0], labels: { 'kubernetes.io/service-name': name } },
    addressType: `IPv${family}`,
    endpoints: [{ addresses: [family === 4 ? `10.244.9.${index + 1}` : `fd00:10:244::9:${index + 1}`], nodeName: 'node-a', conditions: { ready: true } }],
    ports: ports.map((port) => ({ name: port.portName, protocol: port.protocol, port: typeof port.targetPort === 'number' ? port.targetPort : 8080 })),
  }));
}

const events: SourceEvent[] = [
  ...corpus.map((entry) => upsert(entry.object)),
  ...services.filter(({ ports }) => ports.length > 0).flatMap(({ entry, ports }) => slicesFor((entry.object.metadata as { name: string }).name, ports)),
];

/** Whether `text` has `ip` as a whole address (10.96.1.1 is not inside 10.96.1.10). */
function mentions(text: string, ip: string): boolean {
  return new RegExp(`(?<![0-9a-f.:])${ip.replaceAll('.', '\\.')}(?![0-9a-f])`).test(text);
}

describe.each(['nft', 'iptables', 'ipvs'])('the accepted corpus planned by %s', (name) => {
  it('programs the cluster IPs of every Service port the backend supports', async () => {
    const { backend, executor, start } = testProxy(await loadBuiltinBackend(name), { config: CONFIG });
    await start(events);
    const plan = executor.render();
    const programmed = services.flatMap(({ entry, ports }) => ports.flatMap((port) => {
      const fitted = fitToFeatures(port, backend.features).port;
      return (fitted?.clusterIPs ?? []).map((ip) => ({ name: entry.name, ip }));
    }));
    expect(programmed.length).toBeGreaterThan(60);
    const missing = programmed.filter(({ ip }) => !mentions(plan, ip));
    expect(missing).toEqual([]);
  });
});
