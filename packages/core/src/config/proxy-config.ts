import { DEFAULT_TOOL_TIMEOUT_MS } from '../backend/executor.js';

/** The node's settings, injected into the engine and every backend. Validated by the CLI. */
export interface ProxyConfig {
  readonly nodeName: string;
  /** This node's addresses (NodePorts answer on them), both families. */
  readonly nodeIPs: readonly string[];
  /** Pod CIDRs: traffic from outside them to a service is masqueraded. Empty: masquerade nothing but external traffic. */
  readonly clusterCIDRs: readonly string[];
  /** Service CIDRs for clusters without the ServiceCIDR API (--service-cidr); merged with ServiceCIDR objects. */
  readonly serviceCIDRs: readonly string[];
  readonly masqueradeAll: boolean;
  /** The packet mark bit (0..31) that flags a connection for masquerade. */
  readonly masqueradeBit: number;
  /** CIDRs whose local addresses answer NodePorts; empty means every local address. */
  readonly nodePortAddresses: readonly string[];
  readonly minSyncPeriodMs: number;
  readonly syncPeriodMs: number;
  readonly drainGraceMs: number;
  readonly healthzTimeoutMs: number;
  /** Longest one tool call (a batch or a read) may run before it is killed and the sync fails (--tool-timeout). */
  readonly toolTimeoutMs: number;
  /** How often the engine asks the backend to check its rules in the kernel for changes from outside (--audit-period); 0: never. */
  readonly auditPeriodMs: number;
  /** Per-Service traffic counters in the rules, exported on /metrics (--service-counters); off: the rules are what they are without. */
  readonly serviceCounters: boolean;
  /** Most Service ports whose counters get series (--service-counters-limit); the others are counted as overflow. */
  readonly serviceCountersLimit: number;
  /** `--backend-opt key=value` pairs, for the backend to interpret. */
  readonly backendOptions: ReadonlyMap<string, string>;
}

export const DEFAULT_CONFIG: ProxyConfig = {
  nodeName: 'localhost',
  nodeIPs: [],
  clusterCIDRs: [],
  serviceCIDRs: [],
  masqueradeAll: false,
  masqueradeBit: 14,
  nodePortAddresses: [],
  minSyncPeriodMs: 1000,
  syncPeriodMs: 3_600_000,
  drainGraceMs: 30_000,
  healthzTimeoutMs: 60_000,
  toolTimeoutMs: DEFAULT_TOOL_TIMEOUT_MS,
  // Audit, then a full sync no sooner than --min-sync-period: tampering is repaired within ~6 s.
  auditPeriodMs: 5000,
  serviceCounters: false,
  serviceCountersLimit: 5000,
  backendOptions: new Map(),
};

/** Reads a backend option, refusing values the backend does not know. */
export function backendOption<T extends string>(config: ProxyConfig, key: string, allowed: readonly T[], fallback: T): T {
  const value = config.backendOptions.get(key) ?? fallback;
  if (!allowed.includes(value as T)) throw new Error(`--backend-opt ${key}=${value}: expected one of ${allowed.join(', ')}`);
  return value as T;
}

/** Reads a numeric backend option within bounds. */
export function backendNumberOption(config: ProxyConfig, key: string, min: number, max: number, fallback: number): number {
  const text = config.backendOptions.get(key);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--backend-opt ${key}=${text}: expected an integer ${min}..${max}`);
  return value;
}
