import type { Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServiceName } from '../model/service-port.js';
import { close, listen, sendJSON } from './http-server.js';

interface ServiceHealth {
  readonly service: ServiceName;
  localEndpoints: number;
}

/** What a healthCheckNodePort answers (kube-proxy's body and weight header); `kplane explain` shows it too. */
export function healthCheckAnswer(health: Readonly<ServiceHealth>, serviceProxyHealthy: boolean) {
  const [namespace, name] = health.service.split('/');
  return {
    status: health.localEndpoints > 0 && serviceProxyHealthy ? 200 : 503,
    body: { service: { namespace, name }, localEndpoints: health.localEndpoints, serviceProxyHealthy },
    weight: String(health.localEndpoints),
  };
}

/**
 * kube-proxy's healthCheckNodePort servers for externalTrafficPolicy=Local load balancers: the
 * cloud load balancer probes each node and sends traffic only where the answer is 200, which
 * takes a ready local endpoint AND a healthy proxy (rules that are not kept current are no reason
 * to send traffic here). Like kube-proxy they listen on the --nodeport-addresses of this node.
 */
export class ServiceHealthServer {
  private readonly servers = new Map<number, { listeners: Server[]; health: ServiceHealth }>();

  constructor(
    private readonly logger: Logger,
    private readonly proxyHealthy: () => boolean,
    /** Addresses to listen on; `0.0.0.0` when every local address answers NodePorts. */
    private readonly hosts: readonly string[] = ['0.0.0.0'],
  ) {}

  /** Makes the listeners match `wanted` (health check port → service and its local ready endpoints). */
  async update(wanted: ReadonlyMap<number, ServiceHealth>): Promise<void> {
    for (const [port, entry] of this.servers) {
      if (wanted.get(port)?.service === entry.health.service) continue;
      this.servers.delete(port);
      await Promise.all(entry.listeners.map(close));
    }
    for (const [port, health] of wanted) {
      const existing = this.servers.get(port);
      if (existing) {
        existing.health.localEndpoints = health.localEndpoints;
        continue;
      }
      const entry = { listeners: [] as Server[], health: { ...health } };
      this.servers.set(port, entry);
      for (const host of this.hosts) {
        try {
          entry.listeners.push((await listen({ host, port }, { '/': (_, response) => this.respond(entry.health, response) })).server);
        } catch (error) {
          this.logger.error({ err: error, service: health.service, address: host, port }, 'cannot open healthCheckNodePort');
        }
      }
    }
  }

  async stop(): Promise<void> {
    await this.update(new Map());
  }

  private respond(health: ServiceHealth, response: ServerResponse): void {
    const { status, body, weight } = healthCheckAnswer(health, this.proxyHealthy());
    sendJSON(response, status, body, { 'X-Load-Balancing-Endpoint-Weight': weight });
  }
}
