import 'reflect-metadata';

/** @kplane/core: everything a backend plugin, a source or an embedding program needs. */

// The model every backend programs.
export type { Endpoint, IPFamily, Protocol, ServiceName, ServicePort, ServicePortKey, ServicePortState, ServiceType } from './model/service-port.js';
export { endpointAddress } from './model/service-port.js';
export { kernelId } from './model/kernel-id.js';
export { canonicalCIDR, canonicalIP, cidrContains, hostCIDR, ipFamily } from './model/ip.js';

// Validation at the boundary.
export { InvalidObjectError, type Validated } from './validation/invalid-object-error.js';
export { validateEndpointSlice, validateNode, validateService, type ValidEndpointSlice, type ValidNode, type ValidService } from './validation/validate.js';

// Sources → tracker → engine.
export type { ObjectKind, Rejection, Source, SourceEvent, SourceHandler } from './source/source.js';
export { isClusterScoped } from './source/source.js';
export { FileSource } from './source/file-source.js';
export { parseManifests } from './source/manifests.js';
export { ChangeTracker, type PortChange, type TrackedChanges } from './tracker/change-tracker.js';
export { selectEndpoints, type NodeLocation } from './tracker/endpoint-selection.js';
export { Engine } from './engine/engine.js';
export { SyncRunner } from './engine/sync-runner.js';
export { systemClock, type Clock, type Timer } from './engine/clock.js';

// The backend contract.
export type { BackendInfo, DataplaneBackend, ProxyState, SyncRequest } from './backend/contract.js';
export { FEATURES, fitToFeatures, type Feature, type FeatureLoss } from './backend/features.js';
export { DryRunExecutor, ExecaExecutor, ToolError, ToolMissingError, type Batch, type Executor, type Query } from './backend/executor.js';
export { BUILTIN_BACKENDS, BackendLoadError, loadBackendPlugin, loadBuiltinBackend } from './backend/loader.js';
export { conntrackConnections } from './backend/conntrack-connections.js';
export { ensureForwardAccept, removeForwardAccept } from './backend/forward-accept.js';
export { IPTABLES_TABLES, IptablesTransaction, type IptablesRules, type IptablesTable } from './backend/iptables-transaction.js';
export { markHex, masqueradeMark } from './backend/marks.js';

// Wiring.
export { TOKENS } from './di/tokens.js';
export { createContainer, type Runtime } from './di/container.js';
export { createProxy, type Proxy } from './proxy.js';
export { DEFAULT_CONFIG, backendNumberOption, backendOption, type ProxyConfig } from './config/proxy-config.js';
export { nodePortIPs } from './config/node-port-ips.js';
export { parseDuration } from './config/duration.js';
export { ProxyMetrics } from './metrics/proxy-metrics.js';
export { HealthState } from './health/health-state.js';
export { startProxyServers } from './health/proxy-servers.js';
export { ServiceHealthServer } from './health/service-health-server.js';
export { createLogger, type Logger } from './logging/logger.js';

// Plugins import inversify through core, so they share core's instance.
export { ContainerModule, inject, injectable } from 'inversify';
