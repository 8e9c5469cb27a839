import { KubeConfig, ServerConfiguration, createConfiguration, type Configuration } from '@kubernetes/client-node';
import type { RestClientMetrics } from '../../metrics/rest-client-metrics.js';
import type { RequestLimiter } from './request-limiter.js';
import { meteredHttpApi } from './request-metrics.js';

/** How kplane reaches the API server (kube-proxy's --kubeconfig, --kube-api-qps, --kube-api-burst). */
export interface ClusterOptions {
  /** A kubeconfig file; without one, the in-cluster service account, then $KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig: string | undefined;
  readonly qps: number;
  readonly burst: number;
}

/** Credentials and server from client-node's own loaders. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromDefault();
  if (!kubeConfig.getCurrentCluster()) throw new Error(`no current cluster in the kubeconfig${path ? ` ${path}` : ''}`);
  return kubeConfig;
}

/** A typed API client (CoreV1Api, …) whose every request first waits for `limiter`, and is counted in `metrics`. */
export function apiClient<T>(kubeConfig: KubeConfig, type: new (configuration: Configuration) => T, limiter: RequestLimiter, metrics?: RestClientMetrics): T {
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(kubeConfig.getCurrentCluster()!.server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [limiter.middleware],
  });
  return new type(metrics ? { ...configuration, httpApi: meteredHttpApi(configuration.httpApi, metrics) } : configuration);
}
