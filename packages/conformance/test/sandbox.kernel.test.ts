import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SANDBOX_NETWORK, Sandbox } from '../src/index.js';

describe('the conformance sandbox itself (no proxy)', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await Sandbox.create();
  });
  afterAll(() => sandbox?.destroy());

  it('routes the client pod to every pod over IPv4 and IPv6, TCP and UDP', async () => {
    for (const pod of sandbox.pods.values()) {
      expect(await sandbox.client.tcp(pod.ipv4, 8080)).toMatchObject({ ok: true, answer: { pod: pod.name, port: 8080, from: SANDBOX_NETWORK.client.ipv4 } });
      expect(await sandbox.client.tcp(pod.ipv6, 9090)).toMatchObject({ ok: true, answer: { pod: pod.name, port: 9090, from: SANDBOX_NETWORK.client.ipv6 } });
      expect(await sandbox.client.udp(pod.ipv4, 5353)).toMatchObject({ ok: true, answer: { pod: pod.name, port: 5353 } });
    }
  });

  it('routes outside clients to pods through the node', async () => {
    expect(await sandbox.external.tcp(sandbox.pod('a').ipv4, 8080)).toMatchObject({ ok: true, answer: { pod: 'a', from: SANDBOX_NETWORK.external.ipv4 } });
    expect(await sandbox.outsider.tcp(sandbox.pod('b').ipv6, 8080)).toMatchObject({ ok: true, answer: { pod: 'b', from: SANDBOX_NETWORK.outsider.ipv6 } });
  });

  it('keeps a connection open and reports a refused port', async () => {
    expect(await sandbox.client.tcp(sandbox.pod('a').ipv4, 8080, { keep: 'k' })).toMatchObject({ ok: true });
    expect(await sandbox.client.send('k')).toMatchObject({ ok: true, answer: { pod: 'a' } });
    await sandbox.client.close('k');
    expect(await sandbox.client.tcp(sandbox.pod('a').ipv4, 1234)).toEqual({ ok: false, error: 'ECONNREFUSED' });
  });
});
