import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** Parses `host:port` or `[v6]:port` (kube-proxy's bind address flags). */
export function parseBindAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`invalid bind address "${text}" (expected host:port or [v6]:port)`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/**
 * Bounds for listeners anyone who reaches the node can open (/healthz, healthCheckNodePorts): a
 * probe is one short request, so a client that holds sockets open or sends headers slowly is cut,
 * and past `maxConnections` new sockets are closed at once rather than spend the agent's file
 * descriptors (which its own syncs and manifest reads need).
 */
export const LISTENER_LIMITS = { maxConnections: 256, headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 };

/** The handler of a `/prefix/*` route that `path` is under (`/debug/services/*` for `/debug/services/ns/name`). */
function prefixRoute(routes: Record<string, Handler>, path: string): Handler | undefined {
  const key = Object.keys(routes).find((route) => route.endsWith('/*') && path.startsWith(route.slice(0, -1)));
  return key === undefined ? undefined : routes[key];
}

/** A small HTTP server for fixed paths (and `/prefix/*` ones); resolves once listening, with the bound port. */
export async function listen(
  address: { host: string; port: number },
  routes: Record<string, Handler>,
  limits = LISTENER_LIMITS,
): Promise<{ server: Server; port: number }> {
  const server = createServer({ headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the timeouts above only this often (30 s by default).
    connectionsCheckingInterval: 1_000 }, (request, response) => {
    const path = (request.url ?? '/').split('?')[0]!;
    const handler = routes[path] ?? prefixRoute(routes, path);
    if (!handler) {
      response.writeHead(404).end('not found\n');
      return;
    }
    // Called inside the promise: a handler that throws at once answers 500 instead of ending the process.
    Promise.resolve().then(() => handler(request, response)).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500);
      response.end(`${String(error)}\n`);
    });
  });
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export function sendJSON(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff', ...headers });
  response.end(`${JSON.stringify(body)}\n`);
}

export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
