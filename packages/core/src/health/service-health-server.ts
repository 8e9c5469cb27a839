import type { Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ServiceName } from '../model/service-port.js';
import { close, listen, sendJSON } from './http-server.js';

interface ServiceHealth {
  readonly service: ServiceName;
  localEndpoints: number;
}

/**
 * kube-proxy's healthCheckNodePort servers for externalTrafficPolicy=Local load balancers: the
 * cloud load balancer probes each node and sends traffic only where a local endpoint is ready.
 */
export class ServiceHealthServer {
  private readonly servers = new Map<number, { server: Server | null; health: ServiceHealth }>();

  constructor(private readonly logger: Logger, private readonly proxyHealthy: () => boolean, private readonly host = '0.0.0.0') {}

  /** Makes the listeners match `wanted` (health check port → service and its local ready endpoints). */
  async update(wanted: ReadonlyMap<number, ServiceHealth>): Promise<void> {
    for (const [port, entry] of this.servers) {
      if (wanted.get(port)?.service === entry.health.service) continue;
      this.servers.delete(port);
      if (entry.server) await close(entry.server);
    }
    for (const [port, health] of wanted) {
      const existing = this.servers.get(port);
      if (existing) {
        existing.health.localEndpoints = health.localEndpoints;
        continue;
      }
      const entry = { server: null as Server | null, health: { ...health } };
      this.servers.set(port, entry);
      try {
        entry.server = (await listen({ host: this.host, port }, { '/': (_, response) => this.respond(entry.health, response) })).server;
      } catch (error) {
        this.logger.error({ err: error, service: health.service, port }, 'cannot open healthCheckNodePort');
      }
    }
  }

  async stop(): Promise<void> {
    await this.update(new Map());
  }

  private respond(health: ServiceHealth, response: ServerResponse): void {
    const [namespace, name] = health.service.split('/');
    const ok = health.localEndpoints > 0;
    sendJSON(
      response,
      ok ? 200 : 503,
      { service: { namespace, name }, localEndpoints: health.localEndpoints, serviceProxyHealthy: this.proxyHealthy() },
      { 'X-Load-Balancing-Endpoint-Weight': String(health.localEndpoints) },
    );
  }
}
