import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { close, listen, LISTENER_LIMITS, sendJSON } from '../src/health/http-server.js';

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

describe('health listeners', () => {
  it('hold at most maxConnections sockets, whatever a client opens, and answer again once they close', async () => {
    const limits = { ...LISTENER_LIMITS, maxConnections: 20 };
    const { server, port } = await listen({ host: '127.0.0.1', port: 0 }, { '/healthz': (_, response) => sendJSON(response, 200, {}) }, limits);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 60; i++) sockets.push(await openSocket(port));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const held = await new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
      expect(held).toBeLessThanOrEqual(20);
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
      const socket = await openSocket(port);
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      socket.resume();
      const ended = await new Promise<boolean>((resolve) => {
        socket.on('close', () => resolve(true));
        setTimeout(() => resolve(false), 4_000);
      });
      socket.destroy();
      expect(ended).toBe(true);
    } finally {
      await close(server);
    }
  });
});
