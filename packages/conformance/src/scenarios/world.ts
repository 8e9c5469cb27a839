import { endpointSliceObject, serviceObject, type PortSpec, type ServiceSpec } from '@kplane/core/testing';
import type { Sandbox } from '../sandbox/sandbox.js';

export { serviceObject as service };

export interface EndpointOptions {
  readonly family?: 4 | 6;
  readonly ports?: readonly { readonly name?: string; readonly port: number; readonly protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
  /** Pods that are terminating but still serving. */
  readonly terminating?: readonly string[];
  readonly namespace?: string;
}

/** An EndpointSlice listing sandbox pods (by name) for a Service, with each pod's node. */
export function endpoints(sandbox: Sandbox, service: string, pods: readonly string[], options: EndpointOptions = {}): Record<string, unknown> {
  const family = options.family ?? 4;
  return endpointSliceObject(service, {
    namespace: options.namespace,
    addressType: family === 4 ? 'IPv4' : 'IPv6',
    ports: options.ports ?? [{ name: 'http', port: 8080 }],
    endpoints: pods.map((name) => {
      const pod = sandbox.pod(name);
      const terminating = options.terminating?.includes(name) ?? false;
      return { ip: family === 4 ? pod.ipv4 : pod.ipv6, nodeName: pod.nodeName, ...(terminating && { ready: false, serving: true, terminating: true }) };
    }),
  });
}

/** The common case: one TCP port `http` 80 → 8080. */
export function httpService(name: string, spec: Partial<ServiceSpec> & { clusterIPs: readonly string[] }, port: Partial<PortSpec> = {}): Record<string, unknown> {
  return serviceObject(name, { ports: [{ name: 'http', port: 80, targetPort: 8080, ...port }], ...spec });
}
