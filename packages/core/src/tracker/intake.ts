import type { Logger } from 'pino';
import { missingFeatures, type Feature } from '../backend/features.js';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { SourceEvent } from '../source/source.js';
import { InvalidObjectError } from '../validation/invalid-object-error.js';
import { validateEndpointSlice, validateNode, validateService, type ValidNode } from '../validation/validate.js';
import type { ChangeTracker } from './change-tracker.js';

/** An object the intake refused, with the raw object as the source delivered it. */
export interface Rejection {
  readonly error: InvalidObjectError;
  readonly reason: 'invalid' | 'unsupported';
  readonly object: unknown;
}

/**
 * The boundary between sources and the tracker: every object is validated here, once. A bad object
 * is logged with its name and field, counted, and skipped: the tracker keeps the last valid version,
 * so one broken object never disturbs the rules of any other (or its own last good ones).
 */
export class ObjectIntake {
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
      else this.onNode(event.ref, null);
      return;
    }
    if (event.kind === 'Service') {
      this.metrics.serviceChangesTotal.inc();
      const result = validateService(event.object);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', object: event.object });
      for (const port of result.value.ports) {
        const missing = missingFeatures(port, this.features);
        if (missing.length > 0) {
          const error = new InvalidObjectError('Service', result.value.name, '', `needs ${missing.join(', ')}, which backend "${this.backendName}" does not support`);
          return this.reject({ error, reason: 'unsupported', object: event.object });
        }
      }
      this.tracker.upsertService(result.value);
    } else if (event.kind === 'EndpointSlice') {
      this.metrics.endpointChangesTotal.inc();
      const result = validateEndpointSlice(event.object);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', object: event.object });
      this.tracker.upsertEndpointSlice(result.value);
    } else {
      const result = validateNode(event.object);
      if (!result.ok) return this.reject({ error: result.error, reason: 'invalid', object: event.object });
      this.tracker.updateNode(result.value);
      this.onNode(result.value.name, result.value);
    }
  }

  private reject(rejection: Rejection): void {
    const { error, reason } = rejection;
    this.metrics.rejectedObjects.inc({ kind: error.kind, reason });
    this.logger.error({ kind: error.kind, object: error.ref, field: error.field || undefined }, `rejected: ${error.message}`);
    this.onReject(rejection);
  }
}
