import { mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A loopback port nothing listens on now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A kubeconfig for a plain-http API server on loopback (TLS verification off), in a new temporary directory. */
export function writeLoopbackKubeconfig(name: string, url: string, token: string | undefined): string {
  const path = join(mkdtempSync(join(tmpdir(), 'kplane-kubeconfig-')), 'kubeconfig');
  writeFileSync(path, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'kplane', user: token ? { token } : {} }],
    contexts: [{ name, context: { cluster: name, user: 'kplane' } }],
    'current-context': name,
  }));
  return path;
}

/** Starts `server` on 127.0.0.1:`port` (0: the kernel's pick); resolves with the bound port. */
export function listenOnLoopback(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
