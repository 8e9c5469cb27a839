import { inject, injectable } from 'inversify';
import type { ProxyConfig } from '../config/proxy-config.js';
import { TOKENS } from '../di/tokens.js';
import type { ServiceName, ServicePortKey, ServicePortState } from '../model/service-port.js';

/** What the service health server answers on one healthCheckNodePort. */
export interface HealthCheckPort {
  readonly service: ServiceName;
  /** Ready endpoints on this node. */
  readonly localEndpoints: number;
}

/**
 * The healthCheckNodePorts of LoadBalancer Services with externalTrafficPolicy Local, kept current
 * one changed port at a time (O(1) each, however many Services have one). The ports of a Service
 * share its health port: it stays while any of them still carries it.
 */
@injectable()
export class HealthCheckPorts {
  /** healthCheckNodePort → its Service and local endpoints. */
  readonly byPort = new Map<number, HealthCheckPort>();
  private readonly byService = new Map<ServiceName, { port: number; keys: Set<ServicePortKey> }>();

  private readonly nodeName: string;

  constructor(@inject(TOKENS.Config) config: Pick<ProxyConfig, 'nodeName'>) {
    this.nodeName = config.nodeName;
  }

  update(key: ServicePortKey, current: ServicePortState | undefined): void {
    const servicePort = current?.servicePort;
    const service = servicePort?.service ?? serviceOf(key);
    const wanted = servicePort?.healthCheckNodePort ?? null;
    const known = this.byService.get(service);
    known?.keys.delete(key);
    if (known && (known.keys.size === 0 || (wanted !== null && wanted !== known.port))) {
      this.byPort.delete(known.port);
      this.byService.delete(service);
    }
    if (wanted === null) return;
    const users = this.byService.get(service) ?? { port: wanted, keys: new Set<ServicePortKey>() };
    users.keys.add(key);
    this.byService.set(service, users);
    const localEndpoints = current!.externalEndpoints.filter((endpoint) => endpoint.nodeName === this.nodeName && endpoint.ready).length;
    this.byPort.set(wanted, { service, localEndpoints });
  }
}

/** `namespace/name:port/PROTOCOL` → `namespace/name` (names have no colon). */
function serviceOf(key: ServicePortKey): ServiceName {
  return key.slice(0, key.indexOf(':'));
}
