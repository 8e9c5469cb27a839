import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContainerModule, ExecaExecutor, TOKENS, type Batch, type Executor, type Query } from '@kplane/core';
import { endpointSliceObject, nextSync, remove, serviceObject, testProxy, upsert } from '@kplane/core/testing';
import plugin, { FakeJsonlClient, JSONL_CLIENT, JsonLinesBackend } from '../src/index.js';

const web = upsert(serviceObject('web', { clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }] }));
const slice = (ips: string[]) => upsert(endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: ips.map((ip) => ({ ip })) }));

/** The backend on a FakeJsonlClient, driven by core's engine. */
function fakeProxy() {
  const client = new FakeJsonlClient();
  const proxy = testProxy(new ContainerModule(({ bind }) => {
    bind(JSONL_CLIENT).toConstantValue(client);
    bind(TOKENS.Backend).to(JsonLinesBackend).inSingletonScope();
  }));
  return { client, ...proxy };
}

describe('example JSON-lines backend', () => {
  it('writes a full sync, then one line per changed port, in one tee batch each', async () => {
    const proxy = testProxy(plugin, { config: { backendOptions: new Map([['file', 'state.jsonl']]) } });
    await proxy.start([web, slice(['10.1.0.1'])]);
    await proxy.sync([slice(['10.1.0.1', '10.1.0.2'])]);
    expect(proxy.executor.render()).toBe([
      '# tee state.jsonl',
      '{"op":"reset"}',
      '{"op":"set","key":"default/web:http/TCP","protocol":"TCP","frontends":["10.96.0.10:80"],"nodePort":null,"endpoints":["10.1.0.1:8080"],"externalEndpoints":["10.1.0.1:8080"],"draining":[]}',
      '# tee -a state.jsonl',
      '{"op":"set","key":"default/web:http/TCP","protocol":"TCP","frontends":["10.96.0.10:80"],"nodePort":null,"endpoints":["10.1.0.1:8080","10.1.0.2:8080"],"externalEndpoints":["10.1.0.1:8080","10.1.0.2:8080"],"draining":[]}',
      '',
    ].join('\n'));
  });

  it('leaves the file, replayed, as one full sync of the final objects would', async () => {
    const incremental = fakeProxy();
    await incremental.start([web, slice(['10.1.0.1'])]);
    const other = upsert(serviceObject('other', { clusterIPs: ['10.96.0.11'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }));
    await incremental.sync([other, slice(['10.1.0.2'])]);
    await incremental.sync([remove('Service', 'default/web')]);
    const fresh = fakeProxy();
    await fresh.start([other, slice(['10.1.0.2'])]);
    expect(incremental.client.ports()).toEqual(fresh.client.ports());
    expect([...fresh.client.ports().keys()]).toEqual(['default/other:dns/UDP']);
  });

  it('after a failed write, catches up with a full sync', async () => {
    const proxy = fakeProxy();
    await proxy.start([web]);
    proxy.client.failNext();
    proxy.engine.handle([slice(['10.1.0.1'])]);
    expect(await proxy.engine.sync()).toBe(false);
    await proxy.sync();
    expect(proxy.client.lines[0]).toBe('{"op":"reset"}');
    expect(proxy.client.ports().get('default/web:http/TCP')).toMatchObject({ endpoints: ['10.1.0.1:8080'] });
  });

  it('writes the file for real, and leaves out only the SCTP port it does not support', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kplane-jsonl-')), 'state.jsonl');
    // A real tool takes real time, which no fake clock can settle: the test waits for the sync itself.
    const { clock, engine, metrics } = testProxy(plugin, { executor: new SlowExecutor(new ExecaExecutor(), 200), config: { backendOptions: new Map([['file', file]]) } });
    const mixed = serviceObject('signal', {
      clusterIPs: ['10.96.0.11'],
      ports: [{ name: 'sig', port: 9999, protocol: 'SCTP' }, { name: 'http', port: 80 }],
    });
    engine.handle([web, upsert(mixed)]);
    const synced = nextSync(engine);
    engine.start();
    await clock.advance(0);
    await synced;
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { op: string; key?: string });
    expect(lines.map((line) => line.key ?? line.op)).toEqual(['reset', 'default/web:http/TCP', 'default/signal:http/TCP']);
    expect(await metrics.registry.getSingleMetricAsString('kplane_service_ports_skipped_total')).toContain('{reason="unsupported"} 1');
    expect(await metrics.registry.getSingleMetricAsString('kplane_rejected_objects_total')).not.toContain('} 1');
  });
});

/** Runs each batch on `inner` after a real delay, as a loaded machine would. */
class SlowExecutor implements Executor {
  readonly live = true;

  constructor(private readonly inner: Executor, private readonly delayMs: number) {}

  async apply(batch: Batch): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    await this.inner.apply(batch);
  }

  read(query: Query): Promise<string> {
    return this.inner.read(query);
  }
}
