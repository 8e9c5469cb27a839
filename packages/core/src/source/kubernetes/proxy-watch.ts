import { performance } from 'node:perf_hooks';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { RestClientMetrics } from '../../metrics/rest-client-metrics.js';
import type { ObjectKind } from '../source.js';
import { proxyView } from './proxy-view.js';
import type { RequestLimiter } from './request-limiter.js';
import { recordWatch } from './request-metrics.js';

const MIN_WATCH_TIMEOUT_S = 300;

/**
 * client-node's Watch with what client-go's reflector adds: it asks for bookmarks (so a quiet
 * watch still advances its resourceVersion and resumes without a re-list), bounds each watch with
 * a randomised server-side timeout (a half-open connection cannot hang forever), waits for the
 * rate limit, counts the request in client-go's metrics, and reduces objects to what the proxy
 * reads before the informer caches them.
 */
export class ProxyWatch extends Watch {
  private readonly open = new Set<AbortController>();
  private closed = false;

  constructor(kubeConfig: KubeConfig, private readonly kind: ObjectKind, private readonly limiter: RequestLimiter, private readonly metrics?: RestClientMetrics) {
    super(kubeConfig);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController> {
    await this.limiter.take();
    // Closed while waiting for the rate limit: an informer stopped meanwhile must not start watching.
    if (this.closed) return abortedController();
    const timeoutSeconds = MIN_WATCH_TIMEOUT_S + Math.floor(Math.random() * MIN_WATCH_TIMEOUT_S);
    // `done` may come before super.watch() returns (a failed connection), hence `finished`.
    const watching: { controller?: AbortController; finished: boolean; error?: unknown } = { finished: false };
    const startedAt = performance.now();
    const controller = await super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds }, (phase, object, raw) => {
      // BOOKMARK and ERROR objects pass as they are: the informer reads their resourceVersion and code.
      const isObject = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED';
      callback(phase, isObject ? proxyView(this.kind, object as Parameters<typeof proxyView>[1]) : object, raw);
    }, (error) => {
      watching.finished = true;
      watching.error = error;
      if (watching.controller) this.open.delete(watching.controller);
      done(error);
    });
    watching.controller = controller;
    recordWatch(this.metrics, `${this.config.getCurrentCluster()!.server}${path}`, startedAt, watching.finished ? watching.error : undefined);
    if (this.closed) controller.abort();
    else if (!watching.finished) this.open.add(controller);
    return controller;
  }

  /** Ends every watch and refuses new ones (client-node's informer can start one after its own stop). */
  close(): void {
    this.closed = true;
    for (const controller of this.open) controller.abort();
    this.open.clear();
  }
}

function abortedController(): AbortController {
  const controller = new AbortController();
  controller.abort();
  return controller;
}
