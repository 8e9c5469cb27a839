import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, DryRunExecutor, ExecaExecutor, createLogger, createProxy, type Executor } from '@kplane/core';
import { FakeClock, endpointSliceObject, serviceObject } from '@kplane/core/testing';
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

  it('writes the file for real, and core refuses the SCTP Service it does not support', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kplane-jsonl-')), 'state.jsonl');
    const { clock, engine, metrics } = proxy(new ExecaExecutor(), file);
    const sctp = serviceObject('signal', { clusterIPs: ['10.96.0.11'], ports: [{ port: 9999, protocol: 'SCTP' }] });
    engine.handle([{ action: 'upsert', kind: 'Service', object: web }, { action: 'upsert', kind: 'Service', object: sctp }]);
    engine.start();
    await clock.advance(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { op: string; key?: string });
    expect(lines.map((line) => line.key ?? line.op)).toEqual(['reset', 'default/web:http/TCP']);
    expect(await metrics.registry.getSingleMetricAsString('kplane_rejected_objects_total')).toContain('{kind="Service",reason="unsupported"} 1');
  });
});
