import 'reflect-metadata';

/**
 * @kplane/core: what a backend plugin and an embedding program need. README's "API" section lists
 * every name (test/public-api.test.ts keeps the two equal); the rest of src is internal.
 */

// The backend contract.
export type { BackendInfo, DataplaneBackend, ProxyState, ServiceCounterReading, SyncRequest } from './backend/contract.js';
export { renderTrace, type PacketTrace, type TraceOrigin, type TraceOutcome, type TracePacket, type TraceStep, type TraceVerdictKind } from './backend/trace.js';
export { FEATURES, type Feature } from './backend/features.js';

// The model every backend programs.
export type { Endpoint, IPFamily, Protocol, ServiceName, ServicePort, ServicePortKey, ServicePortState, ServiceType } from './model/service-port.js';
export { endpointAddress } from './model/service-port.js';
export { kernelId } from './model/kernel-id.js';
export { canonicalCIDR, canonicalIP, cidrContains, hostCIDR, ipFamily } from './model/ip.js';

// The executor: every write and read of a backend.
export { DryRunExecutor, ExecaExecutor, ToolError, ToolMissingError, type Batch, type Executor, type Query, type WatchedTool } from './backend/executor.js';
export { NftMonitor, type ChangeMonitor, type SeenChanges } from './backend/nft-monitor.js';

// Policy shared by the backends.
export { markHex, masqueradeMark } from './backend/marks.js';
export { ensureForwardAccept, removeForwardAccept } from './backend/forward-accept.js';
export { IPTABLES_TABLES, IptablesTransaction, iptablesCommand, type IptablesRules, type IptablesTable } from './backend/iptables-transaction.js';
export { conntrackConnections } from './backend/conntrack-connections.js';
export { nodePortIPs } from './config/node-port-ips.js';

// Configuration and logging.
export { DEFAULT_CONFIG, backendNumberOption, backendOption, type ProxyConfig } from './config/proxy-config.js';
export { createLogger, type Logger } from './logging/logger.js';
export { systemClock, type Clock, type Timer } from './engine/clock.js';

// Sources.
export { isClusterScoped, type ObjectKind, type Rejection, type Source, type SourceEvent, type SourceHandler } from './source/source.js';
export { FileSource } from './source/file-source.js';
export { parseManifests } from './source/manifests.js';

// Wiring: the container, the embedding entry point, the loader.
export { createProxy, type Proxy } from './proxy.js';
export type { ProxyMetrics } from './metrics/proxy-metrics.js';
export { createContainer, type Runtime } from './di/container.js';
export { TOKENS } from './di/tokens.js';
export { BUILTIN_BACKENDS, BackendLoadError, loadBackendPlugin, loadBuiltinBackend } from './backend/loader.js';

// Plugins import inversify through core, so they share core's instance.
export { ContainerModule, inject, injectable } from 'inversify';
