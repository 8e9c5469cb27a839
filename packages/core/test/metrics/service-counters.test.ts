import { describe, expect, it } from 'vitest';
import { ContainerModule, DEFAULT_CONFIG, DryRunExecutor, FEATURES, TOKENS, createLogger, createProxy, type ServiceCounterReading } from '../../src/index.js';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics.js';
import { SERVICE_COUNTERS_MAX_AGE_MS } from '../../src/metrics/service-counters.js';
import type { ServicePort } from '../../src/model/service-port.js';
import { RecordingBackend } from '../support/recording-backend.js';
import { resolve } from '../support/resolve-options.js';

function port(service: string, portName: string, protocol: ServicePort['protocol'] = 'TCP'): ServicePort {
  return { key: `${service}:${portName}/${protocol}`, service, portName, protocol } as ServicePort;
}

const web = port('default/web', 'http');
const dns = port('kube-system/dns', 'dns', 'UDP');

/** A ProxyMetrics reading from `kernel` (the readings a backend would return), on a clock the test moves. */
function harness(limit = 100) {
  const metrics = new ProxyMetrics();
  const clock = { now: 0 };
  let kernel: ServiceCounterReading[] = [];
  let reads = 0;
  let fail = false;
  metrics.serviceCounters.readFrom(async () => {
    reads++;
    if (fail) throw new Error('nft: boom');
    return kernel;
  }, limit, () => clock.now);
  const scrape = async (): Promise<string> => {
    const text = await metrics.registry.metrics();
    clock.now += SERVICE_COUNTERS_MAX_AGE_MS;
    return text;
  };
  return {
    metrics, clock, scrape,
    set: (readings: ServiceCounterReading[]) => { kernel = readings; },
    reads: () => reads,
    failReads: (value: boolean) => { fail = value; },
  };
}

describe('per-Service traffic counters (--service-counters)', () => {
  it('exports packets and bytes per Service port with namespace, service, port and protocol', async () => {
    const h = harness();
    h.set([{ servicePort: web, packets: 10, bytes: 600 }, { servicePort: dns, packets: 3, bytes: 210 }]);
    const text = await h.scrape();
    expect(text).toContain('kplane_service_packets_total{namespace="default",service="web",port="http",protocol="TCP"} 10');
    expect(text).toContain('kplane_service_bytes_total{namespace="default",service="web",port="http",protocol="TCP"} 600');
    expect(text).toContain('kplane_service_packets_total{namespace="kube-system",service="dns",port="dns",protocol="UDP"} 3');
  });

  it('reads the kernel once per scrape at most, and not again within a few seconds', async () => {
    const h = harness();
    h.set([{ servicePort: web, packets: 1, bytes: 60 }]);
    await Promise.all([h.metrics.registry.metrics(), h.metrics.registry.metrics()]);
    expect(h.reads()).toBe(1);
    h.clock.now += SERVICE_COUNTERS_MAX_AGE_MS - 1;
    await h.metrics.registry.metrics();
    expect(h.reads()).toBe(1);
    h.clock.now += 1;
    await h.metrics.registry.metrics();
    expect(h.reads()).toBe(2);
  });

  it('never goes down: a kernel counter that restarted (element written again) is added whole', async () => {
    const h = harness();
    h.set([{ servicePort: web, packets: 10, bytes: 600 }]);
    await h.scrape();
    h.set([{ servicePort: web, packets: 4, bytes: 240 }]);
    expect(await h.scrape()).toContain('kplane_service_packets_total{namespace="default",service="web",port="http",protocol="TCP"} 14');
    h.set([{ servicePort: web, packets: 5, bytes: 300 }]);
    expect(await h.scrape()).toContain('kplane_service_bytes_total{namespace="default",service="web",port="http",protocol="TCP"} 900');
  });

  it('creates no series over the limit and counts each refused port once; a freed slot is taken', async () => {
    const h = harness(1);
    h.set([{ servicePort: web, packets: 1, bytes: 60 }, { servicePort: dns, packets: 2, bytes: 120 }]);
    await h.scrape();
    let text = await h.scrape();
    expect(text).toContain('service="web"');
    expect(text).not.toContain('service="dns"');
    expect(text).toContain('kplane_service_counters_overflow_total 1');
    h.set([{ servicePort: dns, packets: 2, bytes: 120 }]);
    text = await h.scrape();
    expect(text).not.toContain('service="web"');
    expect(text).toContain('kplane_service_packets_total{namespace="kube-system",service="dns",port="dns",protocol="UDP"} 2');
  });

  it('keeps the last values when a read fails, and counts the failure', async () => {
    const h = harness();
    h.set([{ servicePort: web, packets: 7, bytes: 420 }]);
    await h.scrape();
    h.failReads(true);
    const text = await h.scrape();
    expect(text).toContain('kplane_service_packets_total{namespace="default",service="web",port="http",protocol="TCP"} 7');
    expect(text).toContain('kplane_service_counters_read_errors_total 1');
  });

  it('exports nothing and reads nothing when the flag is off', async () => {
    const metrics = new ProxyMetrics();
    expect(await metrics.registry.metrics()).not.toMatch(/^kplane_service_packets_total\{/m);
  });

  it('is off by default; --service-counters-limit is a non-negative integer', () => {
    expect(resolve([]).options.config).toMatchObject({ serviceCounters: false, serviceCountersLimit: 5000 });
    expect(resolve(['--service-counters', '--service-counters-limit', '20']).options.config).toMatchObject({ serviceCounters: true, serviceCountersLimit: 20 });
    expect(() => resolve(['--service-counters-limit', '-1'])).toThrow('--service-counters-limit -1: expected a non-negative integer');
  });
});

describe('--service-counters wiring (createProxy)', () => {
  const runtime = (serviceCounters: boolean) => ({ config: { ...DEFAULT_CONFIG, serviceCounters }, executor: new DryRunExecutor(), logger: createLogger('silent') });
  const backendModule = (backend: object) => new ContainerModule(({ bind }) => void bind(TOKENS.Backend).toConstantValue(backend));

  it('refuses a backend that keeps no per-Service counters', () => {
    expect(() => createProxy(runtime(true), backendModule(Object.assign(new RecordingBackend(false, new Set(FEATURES)), { name: 'plain' }))))
      .toThrow('--service-counters: the plain backend keeps no per-Service counters');
  });

  it('reads the backend\'s counters on a scrape when on, and never when off', async () => {
    for (const on of [true, false]) {
      let reads = 0;
      const backend = Object.assign(new RecordingBackend(false, new Set(FEATURES)), {
        readServiceCounters: async () => {
          reads++;
          return [{ servicePort: web, packets: 2, bytes: 120 }];
        },
      });
      const proxy = createProxy(runtime(on), backendModule(backend));
      const text = await proxy.metrics.registry.metrics();
      expect(reads).toBe(on ? 1 : 0);
      expect(text.includes('kplane_service_packets_total{namespace="default",service="web",port="http",protocol="TCP"} 2')).toBe(on);
    }
  });
});
