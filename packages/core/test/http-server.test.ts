import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { close, listen, LISTENER_LIMITS, sendJSON } from '../src/health/http-server.js';
import { heldConnections, openSocket, slowloris } from './support/listener-abuse.js';

describe('health listeners', () => {
  it('hold at most maxConnections sockets, whatever a client opens, and answer again once they close', async () => {
    const limits = { ...LISTENER_LIMITS, maxConnections: 20 };
    const { server, port } = await listen({ host: '127.0.0.1', port: 0 }, { '/healthz': (_, response) => sendJSON(response, 200, {}) }, limits);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 60; i++) sockets.push(await openSocket(port));
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await heldConnections(server)).toBeLessThanOrEqual(20);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      for (const socket of sockets) socket.destroy();
      await close(server);
    }
  });

  it('cut a client that never finishes its headers', async () => {
    const limits = { ...LISTENER_LIMITS, headersTimeoutMs: 300, requestTimeoutMs: 300 };
    const { server, port } = await listen({ host: '127.0.0.1', port: 0 }, { '/healthz': (_, response) => sendJSON(response, 200, {}) }, limits);
    try {
      expect(await slowloris(port, '/healthz', 4_000)).toBe(true);
    } finally {
      await close(server);
    }
  });

  it('answer 500 when a handler throws at once, and go on serving', async () => {
    const { server, port } = await listen({ host: '127.0.0.1', port: 0 }, {
      '/boom': () => {
        throw new Error('boom');
      },
      '/healthz': (_, response) => sendJSON(response, 200, {}),
    });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/boom`)).status).toBe(500);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await close(server);
    }
  });
});
