import type { Logger } from 'pino';
import { fitToFeatures, type Feature, type FeatureLoss } from '../backend/features.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { ServicePort } from '../model/service-port.js';
import type { SourceEvent } from '../source/source.js';
import { InvalidObjectError } from '../validation/invalid-object-error.js';
import { validateServiceCIDR } from '../validation/service-cidr.js';
import {
  validateEndpointSlice, validateNode, validateService, type SkippedPart, type ValidNode, type ValidService,
} from '../validation/validate.js';
import type { ChangeTracker } from './change-tracker.js';

/** An object the intake refused, or a part of one it left out, with the raw object as the source delivered it. */
export interface Rejection {
  readonly error: InvalidObjectError;
  readonly reason: 'invalid' | 'unsupported';
  /** True when only a part (a port, some frontends, an endpoint) was left out and the rest is programmed. */
  readonly partial: boolean;
  readonly object: unknown;
}

/**
 * The boundary between sources and the tracker: every object is validated here, once. A bad object
 * is logged with its name and field, counted, and skipped: the tracker keeps the last valid version,
 * so one broken object never disturbs the rules of any other (or its own last good ones). What only
 * a part of an object gets wrong (a port, an endpoint, a frontend the backend lacks) costs that part
 * alone, reported once for as long as it lasts.
 */
export class ObjectIntake {
  /** What is being left out of each object now (`Kind namespace/name` → messages): each is reported once. */
  private readonly leftOut = new Map<string, ReadonlySet<string>>();

  constructor(
    private readonly tracker: ChangeTracker,
    private readonly features: ReadonlySet<Feature>,
    private readonly backendName: string,
    private readonly metrics: ProxyMetrics,
    private readonly logger: Logger,
    private readonly onNode: (name: string, node: ValidNode | null) => void,
    private readonly onReject: (rejection: Rejection) => void,
  ) {}

  apply(event: SourceEvent): void {
    if (event.action === 'delete') {
      if (event.kind === 'Service') this.tracker.deleteService(event.ref);
      else if (event.kind === 'EndpointSlice') this.tracker.deleteEndpointSlice(event.ref);
      else if (event.kind === 'ServiceCIDR') this.tracker.deleteServiceCIDR(event.ref);
      else this.onNode(event.ref, null);
      if (event.kind !== 'Node') this.leftOut.delete(`${event.kind} ${event.ref}`);
      return;
    }
    if (event.kind === 'Service') {
      this.metrics.serviceChangesTotal.inc();
      const result = validateService(event.object, event.origin);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', partial: false, object: event.object });
      this.tracker.upsertService(this.fitToBackend(result.value, event.object));
    } else if (event.kind === 'EndpointSlice') {
      this.metrics.endpointChangesTotal.inc();
      const result = validateEndpointSlice(event.object, event.origin);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', partial: false, object: event.object });
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
      this.onNode(result.value.name, result.value);
    }
  }

  /** The Service with each port cut down to what the backend can program. */
  private fitToBackend(service: ValidService, object: unknown): ValidService {
    const parts = service.skipped.map((part) => invalidPart(part));
    const ports: ServicePort[] = [];
    for (const declared of service.ports) {
      const { port, losses } = fitToFeatures(declared, this.features);
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
      ? `not programmed: backend "${this.backendName}" lacks ${features}`
      : `programmed without the frontends that need ${features}, which backend "${this.backendName}" lacks`;
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
      this.onReject({ error, reason: part.reason, partial: true, object });
    }
    if (now.size > 0) this.leftOut.set(key, now);
    else this.leftOut.delete(key);
  }

  private reject(rejection: Rejection): void {
    const { error, reason } = rejection;
    this.metrics.rejectedObjects.inc({ kind: error.kind, reason });
    this.logger.error({ kind: error.kind, object: error.ref, field: error.field || undefined }, `rejected: ${error.message}`);
    this.onReject(rejection);
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
