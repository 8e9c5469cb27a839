import { ContainerModule, TOKENS, type ProxyConfig, type SourceEvent } from '../../src/index.js';
import { endpointSliceObject, serviceObject, testProxy, upsert } from '../../src/testing/index.js';
import { RecordingBackend } from './recording-backend.js';

/** An engine on a fake clock with a recording backend. */
export function engineHarness(config: Partial<ProxyConfig> = {}, backend = new RecordingBackend()) {
  const proxy = testProxy(new ContainerModule(({ bind }) => void bind(TOKENS.Backend).toConstantValue(backend)), { config });
  return { ...proxy, backend };
}

export function web(ip = '10.96.0.1', protocol: 'TCP' | 'UDP' = 'TCP'): SourceEvent {
  return upsert(serviceObject('web', { clusterIPs: [ip], ports: [{ name: 'http', port: 80, protocol }] }));
}

export function webEndpoints(ips: string[], patch: { terminating?: string[]; protocol?: 'TCP' | 'UDP' } = {}): SourceEvent {
  return upsert(endpointSliceObject('web', {
    ports: [{ name: 'http', port: 8080, protocol: patch.protocol }],
    endpoints: ips.map((ip) => (patch.terminating?.includes(ip) ? { ip, ready: false, serving: true, terminating: true } : { ip })),
  }));
}
