import { describe, expect, it } from 'vitest';
import { ServiceHealthServer, createLogger } from '../src/index.js';

describe('healthCheckNodePort server', () => {
  it('answers 200 with the local endpoint count while this node has one, 503 otherwise, like kube-proxy', async () => {
    const server = new ServiceHealthServer(createLogger('silent'), () => true, '127.0.0.1');
    const port = 32000 + Math.floor(Math.random() * 700);
    try {
      await server.update(new Map([[port, { service: 'shop/edge', localEndpoints: 2 }]]));
      let response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-load-balancing-endpoint-weight')).toBe('2');
      expect(await response.json()).toEqual({ service: { namespace: 'shop', name: 'edge' }, localEndpoints: 2, serviceProxyHealthy: true });
      await server.update(new Map([[port, { service: 'shop/edge', localEndpoints: 0 }]]));
      response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(503);
      await server.update(new Map());
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });
});
