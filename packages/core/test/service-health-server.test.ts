import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/index.js';
import { ServiceHealthServer } from '../src/health/service-health-server.js';

const randomPort = () => 32000 + Math.floor(Math.random() * 700);

describe('healthCheckNodePort server', () => {
  it('answers 200 with the local endpoint count while this node has one, 503 otherwise, like kube-proxy', async () => {
    const server = new ServiceHealthServer(createLogger('silent'), () => true, ['127.0.0.1']);
    const port = randomPort();
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

  it('answers 503 while the proxy is unhealthy, local endpoints or not, so load balancers leave the node', async () => {
    let healthy = false;
    const server = new ServiceHealthServer(createLogger('silent'), () => healthy, ['127.0.0.1']);
    const port = randomPort();
    try {
      await server.update(new Map([[port, { service: 'shop/edge', localEndpoints: 3 }]]));
      let response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(503);
      expect(response.headers.get('x-load-balancing-endpoint-weight')).toBe('3');
      expect(await response.json()).toEqual({ service: { namespace: 'shop', name: 'edge' }, localEndpoints: 3, serviceProxyHealthy: false });
      healthy = true;
      response = await fetch(`http://127.0.0.1:${port}/`);
      expect(response.status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('listens only on the addresses it is given (the --nodeport-addresses of this node)', async () => {
    const server = new ServiceHealthServer(createLogger('silent'), () => true, ['127.0.0.2', '127.0.0.3']);
    const port = randomPort();
    try {
      await server.update(new Map([[port, { service: 'shop/edge', localEndpoints: 1 }]]));
      expect((await fetch(`http://127.0.0.2:${port}/`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.3:${port}/`)).status).toBe(200);
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    } finally {
      await server.stop();
    }
  });
});
