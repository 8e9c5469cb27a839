import { Counter, type Registry } from 'prom-client';
import type { ServiceCounterReading } from '../backend/contract.js';
import type { ServicePortKey } from '../model/service-port.js';

/** A read answers every scrape within this long: one kernel read per scrape at most, fewer when scrapes come faster. */
export const SERVICE_COUNTERS_MAX_AGE_MS = 5000;

type Labels = { namespace: string; service: string; port: string; protocol: string };

/** One exported service port: its labels, its totals, and the kernel's last raw values (to add only what they grew by). */
interface Series {
  readonly labels: Labels;
  packets: number;
  bytes: number;
  lastPackets: number;
  lastBytes: number;
}

/**
 * `kplane_service_packets_total` / `kplane_service_bytes_total` (--service-counters): traffic to each
 * Service port, read from the backend's kernel counters when Prometheus scrapes, at most once per
 * SERVICE_COUNTERS_MAX_AGE_MS (concurrent scrapes share one read). The kernel's counters restart when
 * their element is written again (a full rewrite, a restart): a value lower than the last read is
 * such a restart and is added whole, so the exported totals never go down. At most `limit` service
 * ports get series; the others are not created, and counted once each in the overflow counter.
 */
export class ServiceCounterMetrics {
  readonly packets: Counter;
  readonly bytes: Counter;
  readonly overflow: Counter;
  readonly readErrors: Counter;
  private readonly series = new Map<ServicePortKey, Series>();
  /** Service ports refused at the limit (already counted in `overflow`), while the kernel reports them. */
  private readonly refused = new Set<ServicePortKey>();
  private source: { read: () => Promise<readonly ServiceCounterReading[]>; limit: number; now: () => number } | null = null;
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | null = null;

  constructor(registry: Registry) {
    const labelNames = ['namespace', 'service', 'port', 'protocol'];
    const collect = (): Promise<void> => this.refresh();
    this.packets = new Counter({ name: 'kplane_service_packets_total', help: 'Packets sent to a Service port (--service-counters)', labelNames, registers: [registry], collect });
    this.bytes = new Counter({ name: 'kplane_service_bytes_total', help: 'Bytes sent to a Service port (--service-counters)', labelNames, registers: [registry], collect });
    this.overflow = new Counter({
      name: 'kplane_service_counters_overflow_total',
      help: 'Service ports whose traffic counters were not exported because --service-counters-limit ports already were',
      registers: [registry],
    });
    this.readErrors = new Counter({ name: 'kplane_service_counters_read_errors_total', help: 'Reads of the kernel\'s per-Service counters that failed (the last values stay)', registers: [registry] });
  }

  /** Starts exporting: `read` is the backend's readServiceCounters, called at scrape time. */
  readFrom(read: () => Promise<readonly ServiceCounterReading[]>, limit: number, now: () => number): void {
    this.source = { read, limit, now };
  }

  private refresh(): Promise<void> {
    const source = this.source;
    if (!source || source.now() - this.readAt < SERVICE_COUNTERS_MAX_AGE_MS) return this.reading ?? Promise.resolve();
    this.readAt = source.now();
    this.reading = source.read().then(
      (readings) => this.record(readings, source.limit),
      () => this.readErrors.inc(),
    ).finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private record(readings: readonly ServiceCounterReading[], limit: number): void {
    const seen = new Set(readings.map((reading) => reading.servicePort.key));
    for (const key of this.series.keys()) if (!seen.has(key)) this.series.delete(key);
    for (const key of this.refused) if (!seen.has(key)) this.refused.delete(key);
    for (const { servicePort, packets, bytes } of readings) {
      let series = this.series.get(servicePort.key);
      if (!series) {
        if (this.series.size >= limit) {
          if (!this.refused.has(servicePort.key)) this.overflow.inc();
          this.refused.add(servicePort.key);
          continue;
        }
        this.refused.delete(servicePort.key);
        const [namespace = '', service = ''] = servicePort.service.split('/');
        const labels = { namespace, service, port: servicePort.portName, protocol: servicePort.protocol };
        series = { labels, packets: 0, bytes: 0, lastPackets: 0, lastBytes: 0 };
        this.series.set(servicePort.key, series);
      }
      series.packets += packets >= series.lastPackets ? packets - series.lastPackets : packets;
      series.bytes += bytes >= series.lastBytes ? bytes - series.lastBytes : bytes;
      series.lastPackets = packets;
      series.lastBytes = bytes;
    }
    this.packets.reset();
    this.bytes.reset();
    for (const { labels, packets, bytes } of this.series.values()) {
      this.packets.inc(labels, packets);
      this.bytes.inc(labels, bytes);
    }
  }
}
