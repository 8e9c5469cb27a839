/** @kplane/core/kubernetes: the Kubernetes source, apart so that only those who use it load client-node. */
export { KubernetesSource, type KubernetesSourceOptions } from './source/kubernetes/kubernetes-source.js';
