import { inject, injectable } from 'inversify';
import type { Logger } from 'pino';
import type { DataplaneBackend } from '../backend/contract.js';
import { fitToFeatures, type FeatureLoss } from '../backend/features.js';
import { TOKENS } from '../di/tokens.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { ServicePort } from '../model/service-port.js';
import type { Rejection, SourceEvent } from '../source/source.js';
import { InvalidObjectError } from '../validation/invalid-object-error.js';
import { validateServiceCIDR } from '../validation/service-cidr.js';
import {
  validateEndpointSlice, validateNode, validateService, type SkippedPart, type ValidNode, type ValidService,
} from '../validation/validate.js';
import type { ChangeTracker } from './change-tracker.js';

/**
 * The boundary between sources and the tracker: every object is validated here, once. A bad object
 * is logged with its name and field, counted, and skipped: the tracker keeps the last valid version,
 * so one broken object never disturbs the rules of any other (or its own last good ones). What only
 * a part of an object gets wrong (a port, an endpoint, a frontend the backend lacks) costs that part
 * alone, reported once for as long as it lasts.
 */
@injectable()
export class ObjectIntake {
  /** What is being left out of each object now (`Kind namespace/name` → messages): each is reported once. */
  private readonly leftOut = new Map<string, ReadonlySet<string>>();
  /** Objects whose last version was refused whole (`Kind namespace/name` → why), until a valid one or their deletion. */
  private readonly refused = new Map<string, InvalidObjectError>();
  private readonly nodeListeners: ((name: string, node: ValidNode | null) => void)[] = [];
  private readonly rejectionListeners: ((rejection: Rejection) => void)[] = [];

  constructor(
    @inject(TOKENS.Tracker) private readonly tracker: ChangeTracker,
    /** What the backend can program (`features`), and its `name` for the messages. */
    @inject(TOKENS.Backend) private readonly backend: Pick<DataplaneBackend, 'name' | 'features'>,
    @inject(TOKENS.Metrics) private readonly metrics: ProxyMetrics,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** Calls `listener` for every valid Node, and with null for a deleted one. */
  onNode(listener: (name: string, node: ValidNode | null) => void): void {
    this.nodeListeners.push(listener);
  }

  /** Calls `listener` for every object refused, and every part of one left out. */
  onRejected(listener: (rejection: Rejection) => void): void {
    this.rejectionListeners.push(listener);
  }

  apply(event: SourceEvent): void {
    if (event.action === 'delete') {
      if (event.kind === 'Service') this.tracker.deleteService(event.ref);
      else if (event.kind === 'EndpointSlice') this.tracker.deleteEndpointSlice(event.ref);
      else if (event.kind === 'ServiceCIDR') this.tracker.deleteServiceCIDR(event.ref);
      else this.nodeChanged(event.ref, null);
      if (event.kind !== 'Node') this.leftOut.delete(`${event.kind} ${event.ref}`);
      this.refused.delete(`${event.kind} ${event.ref}`);
      return;
    }
    if (event.kind === 'Service') {
      this.metrics.serviceChangesTotal.inc();
      const result = validateService(event.object, event.origin);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', partial: false, object: event.object });
      this.refused.delete(`Service ${result.value.name}`);
      this.tracker.upsertService(this.fitToBackend(result.value, event.object));
    } else if (event.kind === 'EndpointSlice') {
      this.metrics.endpointChangesTotal.inc();
      const result = validateEndpointSlice(event.object, event.origin);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', partial: false, object: event.object });
      this.refused.delete(`EndpointSlice ${result.value.key}`);
      this.reportLeftOut('EndpointSlice', result.value.key, event.object, result.value.skipped.map((part) => invalidPart(part)));
      this.tracker.upsertEndpointSlice(result.value);
    } else if (event.kind === 'ServiceCIDR') {
      const result = validateServiceCIDR(event.object);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', partial: false, object: event.object });
      this.tracker.upsertServiceCIDR(result.value);
    } else {
      const result = validateNode(event.object);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', partial: false, object: event.object });
      this.tracker.updateNode(result.value);
      this.nodeChanged(result.value.name, result.value);
    }
  }

  /** Why the last version of an object was refused whole (its last valid one stays), or null (`kplane explain`). */
  refusal(kind: 'Service' | 'EndpointSlice', ref: string): InvalidObjectError | null {
    return this.refused.get(`${kind} ${ref}`) ?? null;
  }

  /** What is left out of an object now, one message per part, field and reason in each (`kplane explain`). */
  leftOutOf(kind: 'Service' | 'EndpointSlice', ref: string): readonly string[] {
    return [...(this.leftOut.get(`${kind} ${ref}`) ?? [])];
  }

  /** The Service with each port cut down to what the backend can program. */
  private fitToBackend(service: ValidService, object: unknown): ValidService {
    const parts = service.skipped.map((part) => invalidPart(part));
    const ports: ServicePort[] = [];
    for (const declared of service.ports) {
      const { port, losses } = fitToFeatures(declared, this.backend.features);
      if (port) ports.push(port);
      if (losses.length > 0) parts.push(this.unsupportedPart(declared, losses));
    }
    this.reportLeftOut('Service', service.name, object, parts);
    return ports.length === service.ports.length && ports.every((port, index) => port === service.ports[index]) ? service : { ...service, ports };
  }

  private unsupportedPart(port: ServicePort, losses: readonly FeatureLoss[]): LeftOut {
    const features = losses.map((loss) => loss.feature).join(', ');
    const whole = losses[0]!.scope === 'port';
    const field = `port ${port.portName || port.port}/${port.protocol}`;
    const detail = whole
      ? `not programmed: backend "${this.backend.name}" lacks ${features}`
      : `programmed without the frontends that need ${features}, which backend "${this.backend.name}" lacks`;
    return { field, detail, reason: 'unsupported', metric: whole ? 'unsupported' : 'unsupported_frontend' };
  }

  /** Reports each part newly left out of an object: a warning, a counter and (through the source) an Event. */
  private reportLeftOut(kind: 'Service' | 'EndpointSlice', ref: string, object: unknown, parts: readonly LeftOut[]): void {
    const key = `${kind} ${ref}`;
    const before = this.leftOut.get(key);
    const now = new Set<string>();
    for (const part of parts) {
      const error = new InvalidObjectError(kind, ref, part.field, part.detail);
      now.add(error.message);
      if (before?.has(error.message)) continue;
      (kind === 'Service' ? this.metrics.servicePortsSkipped : this.metrics.endpointsSkipped).inc({ reason: part.metric });
      this.logger.warn({ kind, object: ref, field: part.field, event: kind === 'Service' ? 'ServicePortSkipped' : 'EndpointSkipped' }, `left out: ${error.message}`);
      this.rejected({ error, reason: part.reason, partial: true, object });
    }
    if (now.size > 0) this.leftOut.set(key, now);
    else this.leftOut.delete(key);
  }

  private reject(rejection: Rejection): void {
    const { error, reason } = rejection;
    if (error.kind === 'Service' || error.kind === 'EndpointSlice') this.refused.set(`${error.kind} ${error.ref}`, error);
    this.metrics.rejectedObjects.inc({ kind: error.kind, reason });
    this.logger.error({ kind: error.kind, object: error.ref, field: error.field || undefined }, `rejected: ${error.message}`);
    this.rejected(rejection);
  }

  private nodeChanged(name: string, node: ValidNode | null): void {
    for (const listener of this.nodeListeners) listener(name, node);
  }

  private rejected(rejection: Rejection): void {
    for (const listener of this.rejectionListeners) listener(rejection);
  }
}

interface LeftOut {
  readonly field: string;
  readonly detail: string;
  readonly reason: Rejection['reason'];
  /** The `reason` label of the skipped-parts counters. */
  readonly metric: 'invalid' | 'unsupported' | 'unsupported_frontend';
}

function invalidPart({ field, detail }: SkippedPart): LeftOut {
  return { field, detail, reason: 'invalid', metric: 'invalid' };
}
