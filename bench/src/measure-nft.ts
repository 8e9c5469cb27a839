import { createLogger, createProxy, DEFAULT_CONFIG } from '@kplane/core';
import { endpointSliceObject, serviceObject } from '@kplane/core/testing';
import { NetnsExecutor } from '@kplane/conformance/sandbox';
import nft from '@kplane/backend-nft';
import { execa } from 'execa';

const count = Number(process.argv[2] ?? 20000);
const ns = `kpm${process.pid}`;
await execa('ip', ['netns', 'add', ns]);
try {
  const executor = new NetnsExecutor(ns);
  const { engine, backend } = createProxy({ config: { ...DEFAULT_CONFIG, clusterCIDRs: ['10.0.0.0/8'] }, executor, logger: createLogger('warn') }, nft);
  await backend.init();
  const ip = (i: number) => `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  const events = [];
  for (let i = 0; i < count; i++) {
    events.push({ action: 'upsert' as const, kind: 'Service' as const, object: serviceObject(`s${i}`, { clusterIPs: [`172.${ip(i)}`], ports: [{ name: 'p', port: 80, targetPort: 8080 }] }) });
    events.push({ action: 'upsert' as const, kind: 'EndpointSlice' as const, object: endpointSliceObject(`s${i}`, { ports: [{ name: 'p', port: 8080 }], endpoints: [{ ip: `10.${ip(i)}`.replace(/^10\.(\d+)/, (_, a) => `10.${Number(a) + 100}`) }, { ip: `11.${ip(i)}` }] }) });
  }
  let t = performance.now();
  engine.handle(events);
  const handled = performance.now() - t;
  t = performance.now();
  if (!(await engine.sync())) throw new Error('full sync failed');
  const full = performance.now() - t;
  process.stdout.write(`${`${count} services: handle ${handled.toFixed(0)} ms, full sync ${full.toFixed(0)} ms, transactions ${executor.applied.length}`}\n`);
  const samples: number[] = [];
  for (let k = 0; k < 30; k++) {
    const i = Math.floor(Math.random() * count);
    const t0 = performance.now();
    engine.handle([{ action: 'upsert', kind: 'EndpointSlice', object: endpointSliceObject(`s${i}`, { ports: [{ name: 'p', port: 8080 }], endpoints: [{ ip: `12.${ip(i)}` }, { ip: `13.${ip(k)}` }] }) }]);
    if (!(await engine.sync())) throw new Error('partial sync failed');
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  process.stdout.write(`${`single change: p50 ${samples[15]!.toFixed(1)} ms, p99 ${samples[29]!.toFixed(1)} ms, min ${samples[0]!.toFixed(1)}`}\n`);
  t = performance.now();
  await backend.sync({ full: true, changed: new Set(), state: engine.desiredState });
  process.stdout.write(`${`second full sync (generation swap): ${(performance.now() - t).toFixed(0)} ms`}\n`);
  process.stdout.write(`${`rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`}\n`);
} finally {
  await execa('ip', ['netns', 'delete', ns]);
}
