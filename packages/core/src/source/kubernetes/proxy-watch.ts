import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { ObjectKind } from '../source.js';
import { proxyView } from './proxy-view.js';
import type { RequestLimiter } from './request-limiter.js';

const MIN_WATCH_TIMEOUT_S = 300;

/**
 * client-node's Watch with what client-go's reflector adds: it asks for bookmarks (so a quiet
 * watch still advances its resourceVersion and resumes without a re-list), bounds each watch with
 * a randomised server-side timeout (a half-open connection cannot hang forever), waits for the
 * rate limit, and reduces objects to what the proxy reads before the informer caches them.
 */
export class ProxyWatch extends Watch {
  constructor(kubeConfig: KubeConfig, private readonly kind: ObjectKind, private readonly limiter: RequestLimiter) {
    super(kubeConfig);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<AbortController> {
    await this.limiter.take();
    const timeoutSeconds = MIN_WATCH_TIMEOUT_S + Math.floor(Math.random() * MIN_WATCH_TIMEOUT_S);
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds }, (phase, object, raw) => {
      // BOOKMARK and ERROR objects pass as they are: the informer reads their resourceVersion and code.
      const isObject = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED';
      callback(phase, isObject ? proxyView(this.kind, object as Parameters<typeof proxyView>[1]) : object, raw);
    }, done);
  }
}
