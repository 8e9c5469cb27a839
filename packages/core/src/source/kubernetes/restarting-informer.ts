import { ListWatch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ObjectKind } from '../source.js';
import type { ProxyWatch } from './proxy-watch.js';
import { proxyView, type ProxyObject } from './proxy-view.js';

/** Delays between restarts after failures: doubling from `initialMs` up to `maxMs`. */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000 };

export interface InformerSpec {
  readonly kind: ObjectKind;
  /** The collection's URL path, e.g. `/api/v1/services`. */
  readonly path: string;
  /** Lists one page, through client-node's typed API. */
  readonly listPage: (continueToken: string | undefined) => Promise<KubernetesListObject<KubernetesObject>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /**
   * A collection the proxy can do without (ServiceCIDRs: older API servers do not serve them, an
   * older ClusterRole does not grant them): a 404 or 403 counts as a first, empty list, so start-up
   * does not wait for it, and it is asked again at the longest backoff (an upgrade, a new role).
   */
  readonly optional?: boolean;
}

export interface InformerHandlers {
  readonly upsert: (object: ProxyObject) => void;
  readonly delete: (object: ProxyObject) => void;
}

/**
 * client-node's informer (list, then watch from the list's resourceVersion; on 410 Gone, re-list
 * and deliver deletes for the objects that vanished) kept alive: client-node stops an informer on
 * any other error, so this one restarts it with exponential backoff, and the watch resumes from the
 * last resourceVersion seen. Stopping is final (client-node's `stop()` also reports an error).
 */
export class RestartingInformer {
  private readonly informer: ListWatch<ProxyObject>;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private delayMs = 0;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  /** An optional collection the API server answered 404 or 403 for (logged once). */
  private absent = false;
  private markSynced: () => void = () => {};
  /** Resolves once a first complete list has been delivered. */
  readonly synced: Promise<void>;

  constructor(
    private readonly spec: InformerSpec,
    private readonly watch: ProxyWatch,
    handlers: InformerHandlers,
    private readonly backoff: Backoff,
    private readonly logger: Logger,
  ) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    this.informer = new ListWatch<ProxyObject>(spec.path, this.watch, () => this.list(), false, spec.labelSelector, spec.fieldSelector);
    this.informer.on('add', handlers.upsert);
    this.informer.on('update', handlers.upsert);
    this.informer.on('delete', handlers.delete);
    this.informer.on('error', (error: unknown) => this.failed(error));
  }

  /** Starts listing and watching; resolves once the first list is delivered, retrying until it is. */
  async start(): Promise<void> {
    this.run();
    await this.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.informer.stop();
    this.watch.close();
  }

  private run(): void {
    this.informer.start().then(() => {
      // An empty resourceVersion means the list has not gone through yet.
      if (this.informer.latestResourceVersion() === '') return;
      this.logger.debug({ kind: this.spec.kind, objects: this.informer.list().length }, 'listed and watching');
      this.markSynced();
    }, (error: unknown) => this.failed(error));
  }

  /** Every page of the collection, reduced to what the proxy reads as it arrives. */
  private async list(): Promise<KubernetesListObject<ProxyObject>> {
    const items: ProxyObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.spec.listPage(continueToken);
      for (const item of page.items) items.push(proxyView(this.spec.kind, item));
      resourceVersion = page.metadata?.resourceVersion;
      continueToken = page.metadata?._continue || undefined;
    } while (continueToken);
    return { metadata: { resourceVersion }, items };
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    const code = (error as { code?: unknown } | null)?.code;
    if (this.spec.optional && (code === 404 || code === 403)) return this.unavailable(code);
    const now = Date.now();
    // After a quiet period the backoff starts over, as client-go's does.
    this.delayMs = now - this.lastFailureAt > 2 * this.backoff.maxMs ? this.backoff.initialMs : Math.min(this.delayMs * 2, this.backoff.maxMs);
    this.lastFailureAt = now;
    const delayMs = Math.round(this.delayMs * (1 + Math.random() / 2));
    this.logger.warn({ kind: this.spec.kind, err: error, retryInMs: delayMs }, 'list/watch failed; the rules stay as they are until it reconnects');
    this.retry(delayMs);
  }

  private unavailable(code: 404 | 403): void {
    if (!this.absent && code === 404) this.logger.info({ kind: this.spec.kind, path: this.spec.path }, 'the API server does not serve this collection; going on without it');
    if (!this.absent && code === 403) this.logger.warn({ kind: this.spec.kind, path: this.spec.path }, 'not allowed to list this collection (grant list and watch in kplane\'s ClusterRole); going on without it');
    this.absent = true;
    this.markSynced();
    this.retry(this.backoff.maxMs);
  }

  private retry(delayMs: number): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.run();
    }, delayMs);
  }
}
