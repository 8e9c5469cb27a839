import { CoreV1Api, DiscoveryV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { RestClientMetrics } from '../../metrics/rest-client-metrics.js';
import { isClusterScoped, type ObjectKind, type Rejection, type Source, type SourceEvent, type SourceHandler } from '../source.js';
import { loadCheckedKubeConfig } from './checked-kubeconfig.js';
import { apiClient, type ClusterOptions } from './cluster-client.js';
import { ProxyWatch } from './proxy-watch.js';
import { HEADLESS_LABEL, SERVICE_PROXY_NAME_LABEL, type ProxyObject } from './proxy-view.js';
import { RejectionEvents } from './rejection-events.js';
import { RequestLimiter } from './request-limiter.js';
import { DEFAULT_BACKOFF, RestartingInformer, type Backoff, type InformerSpec } from './restarting-informer.js';

export interface KubernetesSourceOptions extends ClusterOptions {
  /** Where `kubeconfig` came from (`--kubeconfig`, a --config field), for the error that refuses it. */
  readonly kubeconfigSetting?: string;
  /** This node: its Node object gives the zone (topology) and whether it is being deleted (/healthz). */
  readonly nodeName: string;
  /** Services labelled service.kubernetes.io/service-proxy-name are skipped unless the label names this; '' skips them all, like kube-proxy. */
  readonly serviceProxyName: string;
  readonly backoff?: Backoff;
  /** Where every request to the API server is counted (client-go's rest_client_* metrics). */
  readonly requestMetrics?: RestClientMetrics;
}

/** client-go's page size for lists: the agent never holds more than one page of raw JSON. */
const PAGE_SIZE = 500;

/**
 * Services, EndpointSlices and this node's Node from the API server, through client-node informers
 * that restart themselves. `start()` resolves once all three initial lists are delivered, so the
 * first sync sees the whole cluster, never a part of it. While the API server is unreachable no
 * event arrives, so the rules stay as they are; on reconnection the watches resume (or, after
 * 410 Gone, re-list and deliver only the differences).
 */
export class KubernetesSource implements Source {
  private readonly informers: RestartingInformer[];
  private readonly rejections: RejectionEvents;
  private handler: SourceHandler = () => {};
  private queued: SourceEvent[] = [];
  private flushing: NodeJS.Immediate | null = null;
  private stopped = false;

  constructor(private readonly options: KubernetesSourceOptions, private readonly logger: Logger) {
    // Refused here, before the CLI initialises the backend: a kubeconfig that cannot work is fatal.
    const kubeConfig = loadCheckedKubeConfig(options.kubeconfig, options.kubeconfigSetting ?? '--kubeconfig');
    const limiter = new RequestLimiter(options.qps, options.burst);
    const metrics = options.requestMetrics;
    const core = apiClient(kubeConfig, CoreV1Api, limiter, metrics);
    const discovery = apiClient(kubeConfig, DiscoveryV1Api, limiter, metrics);
    const networking = apiClient(kubeConfig, NetworkingV1Api, limiter, metrics);
    // kube-proxy's server-side filters: with no proxy name of our own, every labelled Service is another proxy's.
    const notOtherProxies = options.serviceProxyName === '' ? `!${SERVICE_PROXY_NAME_LABEL}` : undefined;
    const sliceSelector = [`!${HEADLESS_LABEL}`, notOtherProxies].filter(Boolean).join(',');
    const nodeSelector = `metadata.name=${options.nodeName}`;
    const specs: InformerSpec[] = [
      {
        kind: 'Service',
        path: '/api/v1/services',
        labelSelector: notOtherProxies,
        listPage: (token) => core.listServiceForAllNamespaces({ labelSelector: notOtherProxies, limit: PAGE_SIZE, _continue: token }),
      },
      {
        kind: 'EndpointSlice',
        path: '/apis/discovery.k8s.io/v1/endpointslices',
        labelSelector: sliceSelector,
        listPage: (token) => discovery.listEndpointSliceForAllNamespaces({ labelSelector: sliceSelector, limit: PAGE_SIZE, _continue: token }),
      },
      {
        kind: 'Node',
        path: '/api/v1/nodes',
        fieldSelector: nodeSelector,
        listPage: (token) => core.listNode({ fieldSelector: nodeSelector, limit: PAGE_SIZE, _continue: token }),
      },
      {
        kind: 'ServiceCIDR',
        path: '/apis/networking.k8s.io/v1/servicecidrs',
        optional: true,
        listPage: (token) => networking.listServiceCIDR({ limit: PAGE_SIZE, _continue: token }),
      },
    ];
    this.informers = specs.map((spec) => new RestartingInformer(spec, new ProxyWatch(kubeConfig, spec.kind, limiter, metrics), {
      upsert: (object) => this.upsert(spec.kind, object),
      delete: (object) => this.queue({ action: 'delete', kind: spec.kind, ref: refOf(spec.kind, object) }),
    }, options.backoff ?? DEFAULT_BACKOFF, logger));
    // Events have a rate limit of their own: a burst of them never delays the informers.
    this.rejections = new RejectionEvents(kubeConfig, new RequestLimiter(options.qps, options.burst), options.nodeName, logger, metrics);
  }

  async start(handler: SourceHandler): Promise<void> {
    this.handler = handler;
    const startedAt = Date.now();
    await Promise.all(this.informers.map((informer) => informer.start()));
    this.flush();
    this.logger.info({ ms: Date.now() - startedAt }, 'initial lists of Services, EndpointSlices, the Node and ServiceCIDRs delivered');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.informers.map((informer) => informer.stop()));
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    this.queued = [];
  }

  reportRejection(rejection: Rejection): void {
    this.rejections.record(rejection);
  }

  private upsert(kind: ObjectKind, object: ProxyObject): void {
    // A Service (or its slices) that moves to another proxy is gone as far as kplane is concerned.
    if (!isClusterScoped(kind) && !this.handles(object)) this.queue({ action: 'delete', kind, ref: refOf(kind, object) });
    else this.queue({ action: 'upsert', kind, object });
  }

  private handles(object: ProxyObject): boolean {
    const proxyName = object.metadata.labels?.[SERVICE_PROXY_NAME_LABEL];
    return proxyName === undefined || (this.options.serviceProxyName !== '' && proxyName === this.options.serviceProxyName);
  }

  /** Informer callbacks come one object at a time: hand them over in batches, once per turn of the event loop. */
  private queue(event: SourceEvent): void {
    // A list in flight when stop() came still completes inside client-node: drop what it delivers.
    if (this.stopped) return;
    this.queued.push(event);
    this.flushing ??= setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = null;
    const events = this.queued;
    this.queued = [];
    if (events.length > 0) this.handler(events);
  }
}

function refOf(kind: ObjectKind, object: ProxyObject): string {
  return isClusterScoped(kind) ? object.metadata.name ?? '' : `${object.metadata.namespace ?? 'default'}/${object.metadata.name ?? ''}`;
}
