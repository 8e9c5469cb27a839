import { EventsV1Api, type EventsV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RestClientMetrics } from '../../metrics/rest-client-metrics.js';
import { isClusterScoped, type ObjectKind, type Rejection } from '../source.js';
import { apiClient } from './cluster-client.js';
import { API_VERSIONS } from './proxy-view.js';
import type { RequestLimiter } from './request-limiter.js';

const REPEAT_AFTER_MS = 10 * 60_000;
const MAX_PENDING = 100;
const NOTE_LIMIT = 1024;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Turns rejected objects into Warning Events (events.k8s.io/v1) on the objects themselves, so that
 * `kubectl describe` shows why kplane does not program them. Like client-go's recorder it has its
 * own rate limit, says the same thing about one object at most every ten minutes, and drops Events
 * rather than queue without bound: Events are advice, never worth delaying the informers for.
 */
export class RejectionEvents {
  private readonly api: EventsV1Api;
  private readonly lastSent = new Map<string, number>();
  private pending = 0;

  constructor(
    kubeConfig: KubeConfig,
    limiter: RequestLimiter,
    private readonly nodeName: string,
    private readonly logger: Logger,
    metrics?: RestClientMetrics,
  ) {
    this.api = apiClient(kubeConfig, EventsV1Api, limiter, metrics);
  }

  record({ error, reason, partial, object }: Rejection): void {
    const now = Date.now();
    const key = `${error.kind} ${error.ref} ${error.message}`;
    if (now - (this.lastSent.get(key) ?? Number.NEGATIVE_INFINITY) < REPEAT_AFTER_MS || this.pending >= MAX_PENDING) return;
    this.forgetOlderThan(now - REPEAT_AFTER_MS);
    this.lastSent.set(key, now);
    this.pending++;
    const body = this.event(error.kind, reason, partial, error.message, object, now);
    this.api.createNamespacedEvent({ namespace: body.metadata!.namespace!, body })
      .catch((failure: unknown) => this.logger.warn({ err: failure, object: error.ref }, 'cannot create the Event for a rejected object'))
      .finally(() => this.pending--);
  }

  private event(kind: string, reason: Rejection['reason'], partial: boolean, message: string, object: unknown, now: number): EventsV1Event {
    const metadata = (object as { metadata?: { name?: unknown; namespace?: unknown; uid?: unknown } } | null)?.metadata ?? {};
    const name = typeof metadata.name === 'string' ? metadata.name : undefined;
    const namespace = isClusterScoped(kind as ObjectKind) ? undefined : typeof metadata.namespace === 'string' ? metadata.namespace : 'default';
    return {
      // An invalid name is often why the object was refused: then the Event gets a name of its own.
      // The API server takes a generateName that ends in "-" (not "."), and adds five characters.
      metadata: { generateName: name && DNS_SUBDOMAIN.test(name) && name.length < 200 ? `${name}-` : 'kplane-rejected-', namespace: namespace ?? 'default' },
      regarding: {
        apiVersion: API_VERSIONS[kind as ObjectKind],
        kind,
        name,
        namespace,
        uid: typeof metadata.uid === 'string' ? metadata.uid : undefined,
      },
      // The API server wants MicroTime with exactly six fractional digits; client-node passes strings through.
      eventTime: new Date(now).toISOString().replace('Z', '000Z') as unknown as Date,
      type: 'Warning',
      reason: reason === 'invalid' ? 'InvalidObject' : 'UnsupportedFeature',
      action: partial ? 'Skip' : 'Reject',
      // Cut by bytes; a character cut in half becomes one replacement character (3 bytes), hence the margin.
      note: Buffer.from(message).subarray(0, NOTE_LIMIT - 3).toString('utf8'),
      reportingController: 'kplane',
      reportingInstance: `kplane-${this.nodeName}`.slice(0, 128),
    };
  }

  private forgetOlderThan(time: number): void {
    for (const [key, sentAt] of this.lastSent) {
      if (sentAt < time) this.lastSent.delete(key);
    }
  }
}
