import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, DryRunExecutor, ExecaExecutor, createLogger, createProxy, type Batch, type Executor, type Query } from '@kplane/core';
import { FakeClock, endpointSliceObject, nextSync, serviceObject } from '@kplane/core/testing';
import plugin from '../src/index.js';

function proxy(executor: Executor, file: string) {
  const clock = new FakeClock();
  const config = { ...DEFAULT_CONFIG, backendOptions: new Map([['file', file]]) };
  return { clock, ...createProxy({ config, executor, logger: createLogger('silent'), clock }, plugin) };
}

const web = serviceObject('web', { clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80 }] });
const slice = (ips: string[]) => endpointSliceObject('web', { ports: [{ name: 'http', port: 8080 }], endpoints: ips.map((ip) => ({ ip })) });

describe('example JSON-lines backend', () => {
  it('writes a full sync, then one line per changed port, in one batch each', async () => {
    const executor = new DryRunExecutor();
    const { clock, engine } = proxy(executor, 'state.jsonl');
    engine.handle([{ action: 'upsert', kind: 'Service', object: web }, { action: 'upsert', kind: 'EndpointSlice', object: slice(['10.1.0.1']) }]);
    engine.start();
    await clock.advance(0);
    engine.handle([{ action: 'upsert', kind: 'EndpointSlice', object: slice(['10.1.0.1', '10.1.0.2']) }]);
    await clock.advance(1000);
    expect(executor.render()).toBe([
      '# tee state.jsonl',
      '{"op":"reset"}',
      '{"op":"set","key":"default/web:http/TCP","protocol":"TCP","frontends":["10.96.0.10:80"],"nodePort":null,"endpoints":["10.1.0.1:8080"],"externalEndpoints":["10.1.0.1:8080"],"draining":[]}',
      '# tee -a state.jsonl',
      '{"op":"set","key":"default/web:http/TCP","protocol":"TCP","frontends":["10.96.0.10:80"],"nodePort":null,"endpoints":["10.1.0.1:8080","10.1.0.2:8080"],"externalEndpoints":["10.1.0.1:8080","10.1.0.2:8080"],"draining":[]}',
      '',
    ].join('\n'));
  });

  it('writes the file for real, and leaves out only the SCTP port it does not support', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kplane-jsonl-')), 'state.jsonl');
    // A real tool takes real time, which no fake clock can settle: the test waits for the sync itself.
    const { clock, engine, metrics } = proxy(new SlowExecutor(new ExecaExecutor(), 200), file);
    const mixed = serviceObject('signal', {
      clusterIPs: ['10.96.0.11'],
      ports: [{ name: 'sig', port: 9999, protocol: 'SCTP' }, { name: 'http', port: 80 }],
    });
    engine.handle([{ action: 'upsert', kind: 'Service', object: web }, { action: 'upsert', kind: 'Service', object: mixed }]);
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
