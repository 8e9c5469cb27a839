import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.js';
import { LISTENER_LIMITS } from '../src/health/http-server.js';
import { startProxyServers } from '../src/health/proxy-servers.js';
import { ServiceHealthServer } from '../src/health/service-health-server.js';
import { engineHarness, web, webEndpoints } from './support/engine-harness.js';
import { exchange, GARBAGE, hugeHeaders, openMany, slowloris } from './support/listener-abuse.js';

/**
 * Issue 15 item 5 for the listeners an agent opens besides /healthz: the metrics + debug listener
 * and the healthCheckNodePort servers. Whatever a client sends, they keep answering, and the sync
 * loop (same process, same event loop) keeps running beside them.
 */
interface Listener {
  readonly port: number;
  readonly path: string;
  readonly stop: () => Promise<void>;
}

async function metricsListener(): Promise<Listener & { sync: () => Promise<boolean> }> {
  const harness = engineHarness();
  harness.engine.handle([web(), webEndpoints(['10.1.0.1'])]);
  await harness.engine.sync();
  const servers = await startProxyServers({ metrics: '127.0.0.1:0', healthz: '' }, harness.engine.health, harness.metrics, harness.debug);
  let version = 2;
  return { port: servers.metricsPort!, path: '/debug/services', stop: servers.stop, sync: () => (harness.engine.handle([webEndpoints([`10.1.0.${version++ % 250}`])]), harness.engine.sync()) };
}

async function healthCheckListener(): Promise<Listener> {
  const server = new ServiceHealthServer(createLogger('silent'), () => true, ['127.0.0.1']);
  const port = 32000 + Math.floor(Math.random() * 700);
  await server.update(new Map([[port, { service: 'shop/edge', localEndpoints: 1 }]]));
  return { port, path: '/', stop: () => server.stop() };
}

const LISTENERS: Record<string, () => Promise<Listener>> = { 'metrics + debug listener': metricsListener, 'healthCheckNodePort server': healthCheckListener };

/** A sync of the engine beside the listener must end at once (the fake clock: no wait of its own). */
async function syncsAtOnce(): Promise<void> {
  const { sync, stop } = await metricsListener();
  try {
    const startedAt = Date.now();
    expect(await sync()).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(1_000);
  } finally {
    await stop();
  }
}

describe.each(Object.entries(LISTENERS))('the %s', (_, open) => {
  const answers = async (listener: Listener) => (await fetch(`http://127.0.0.1:${listener.port}${listener.path}`)).status;

  it('answers 400 to garbage and goes on answering', async () => {
    const listener = await open();
    try {
      for (const garbage of GARBAGE) expect(await exchange(listener.port, garbage, 500)).toMatch(/^HTTP\/1\.1 (400|404)/);
      expect(await answers(listener)).toBe(200);
    } finally {
      await listener.stop();
    }
  });

  it('answers 431 to huge headers', async () => {
    const listener = await open();
    try {
      expect(await exchange(listener.port, hugeHeaders(listener.path))).toMatch(/^HTTP\/1\.1 431/);
      expect(await answers(listener)).toBe(200);
    } finally {
      await listener.stop();
    }
  });

  it('holds at most maxConnections of 1,000 concurrent connections, while syncs run, and answers once they close', async () => {
    const listener = await open();
    const sockets = await openMany(listener.port, 1_000);
    try {
      await syncsAtOnce();
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Past maxConnections the server closes a socket as it accepts it.
      expect(sockets.filter((socket) => !socket.destroyed).length).toBeLessThanOrEqual(LISTENER_LIMITS.maxConnections);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await answers(listener)).toBe(200);
    } finally {
      for (const socket of sockets) socket.destroy();
      await listener.stop();
    }
  });

  it('cuts a slowloris client within the header timeout, while syncs run', async () => {
    const listener = await open();
    try {
      const cut = slowloris(listener.port, listener.path, LISTENER_LIMITS.headersTimeoutMs + 3_000);
      await syncsAtOnce();
      expect(await cut).toBe(true);
      expect(await answers(listener)).toBe(200);
    } finally {
      await listener.stop();
    }
  }, 15_000);
});
