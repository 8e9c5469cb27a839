import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { canonicalIP } from '../model/ip.js';
import { levelForVerbosity } from '../logging/logger.js';
import { parseDuration } from './duration.js';

const API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
/** The key under which kubeadm's kube-proxy ConfigMap holds the configuration (kube-proxy reads it as /var/lib/kube-proxy/config.conf). */
const CONFIGMAP_KEY = 'config.conf';

export type KubeProxyMode = 'iptables' | 'ipvs' | 'nftables';
const MODE_BACKEND: Readonly<Record<KubeProxyMode, string>> = { iptables: 'iptables', ipvs: 'ipvs', nftables: 'nft' };
/** What kube-proxy runs on Linux when the mode is "" (cmd/kube-proxy/app/server_linux.go, v1.37). */
const DEFAULT_MODE: KubeProxyMode = 'iptables';

/**
 * Where kube-proxy reads the masquerade and sync settings in each mode
 * (pkg/proxy/apis/config/v1alpha1/conversion.go and the proxiers: ipvs takes masquerading from `iptables`).
 */
const MODE_SECTIONS: Readonly<Record<KubeProxyMode, { masquerade: 'iptables' | 'nftables'; sync: KubeProxyMode }>> = {
  iptables: { masquerade: 'iptables', sync: 'iptables' },
  ipvs: { masquerade: 'iptables', sync: 'ipvs' },
  nftables: { masquerade: 'nftables', sync: 'nftables' },
};

/** The fields kplane reads in every mode; the mode adds its sections' fields. */
const COMMON_FIELDS = [
  'apiVersion', 'kind', 'mode', 'hostnameOverride', 'clusterCIDR', 'healthzBindAddress', 'metricsBindAddress', 'nodePortAddresses',
  'clientConnection.kubeconfig', 'clientConnection.qps', 'clientConnection.burst', 'logging.verbosity',
];

/** kube-proxy's ports for a bind address given without one (pkg/cluster/ports). */
const HEALTHZ_PORT = 10256;
const METRICS_PORT = 10249;

// Pointer fields are null in kubeadm's ConfigMap ("use the default"): every field is nullish.
const duration = z.string().nullish();
const masquerade = { masqueradeAll: z.boolean().nullish(), masqueradeBit: z.number().int().min(0).max(31).nullish() };
const sync = { syncPeriod: duration, minSyncPeriod: duration };
const schema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('KubeProxyConfiguration'),
  mode: z.string().nullish(),
  hostnameOverride: z.string().nullish(),
  clusterCIDR: z.string().nullish(),
  healthzBindAddress: z.string().nullish(),
  metricsBindAddress: z.string().nullish(),
  nodePortAddresses: z.array(z.string()).nullish(),
  clientConnection: z.object({ kubeconfig: z.string().nullish(), qps: z.number().min(0).nullish(), burst: z.number().int().min(0).nullish() }).nullish(),
  logging: z.object({ verbosity: z.number().int().min(0).nullish() }).nullish(),
  iptables: z.object({ ...masquerade, ...sync }).nullish(),
  ipvs: z.object({ ...sync, scheduler: z.string().nullish() }).nullish(),
  nftables: z.object({ ...masquerade, ...sync }).nullish(),
});

export interface ModeChoice {
  readonly mode: KubeProxyMode;
  readonly backend: string;
  /** Why: the setting and, for "", kube-proxy's rule. */
  readonly reason: string;
}

/** A kube-proxy mode (`mode`, `--proxy-mode`) as kplane's backend, with the reason for the log. */
export function kubeProxyMode(text: string, setting: string): ModeChoice {
  if (text === '') {
    const reason = `${setting} "": kube-proxy's default on Linux is ${DEFAULT_MODE} mode (v1.37; it plans nftables from v1.40)`;
    return { mode: DEFAULT_MODE, backend: MODE_BACKEND[DEFAULT_MODE], reason };
  }
  if (!Object.hasOwn(MODE_BACKEND, text)) throw new Error(`${setting} ${text}: expected iptables, ipvs or nftables (kube-proxy's Linux modes)`);
  const mode = text as KubeProxyMode;
  return { mode, backend: MODE_BACKEND[mode], reason: `${setting} ${mode}` };
}

/** One setting from the file: the value in CLI-flag form, and the field it came from (for error messages). */
export interface FileSetting {
  readonly value: string | boolean | readonly string[];
  readonly field: string;
}

export interface KubeProxyConfigurationFile {
  readonly mode: ModeChoice;
  /** By CLI option name (`masqueradeBit`, `kubeconfig`...); only fields that hold a setting (null and zero mean the default). */
  readonly settings: Readonly<Record<string, FileSetting>>;
  /** Full paths of the fields present that kplane does not read in this mode (`conntrack.maxPerCore`). */
  readonly ignored: readonly string[];
}

/**
 * Reads `--config`: a KubeProxyConfiguration (what kube-proxy's --config reads), or the ConfigMap that
 * kubeadm writes it into (`kubectl -n kube-system get cm kube-proxy -o yaml`), whose `data["config.conf"]` it is.
 */
export function readKubeProxyConfiguration(path: string): KubeProxyConfigurationFile {
  const setting = `--config ${path}`;
  const fail = (message: string): never => {
    throw new Error(`${setting}: ${message}`);
  };
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    fail(`cannot read it (${(error as Error).message})`);
  }
  let raw = yaml(text, fail);
  if (raw.kind === 'ConfigMap') {
    const data = (raw.data ?? {}) as Record<string, unknown>;
    const inner = data[CONFIGMAP_KEY];
    if (typeof inner !== 'string') fail(`a ConfigMap without data["${CONFIGMAP_KEY}"], kubeadm's key for the KubeProxyConfiguration (it has: ${Object.keys(data).join(', ') || 'nothing'})`);
    raw = yaml(inner as string, (message) => fail(`data["${CONFIGMAP_KEY}"]: ${message}`));
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    fail(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const config = result.data!;
  const mode = kubeProxyMode(config.mode ?? '', `mode (${setting})`);
  const sections = MODE_SECTIONS[mode.mode];
  const masquerading = config[sections.masquerade];
  const syncing = config[sections.sync];
  const settings: Record<string, FileSetting> = {};
  const set = (name: string, field: string, value: FileSetting['value'] | null | undefined): void => {
    if (value !== undefined && value !== null && value !== '') settings[name] = { value, field };
  };
  const durationMs = (field: string, text: string): number => {
    try {
      return parseDuration(text);
    } catch (error) {
      return fail(`${field}: ${(error as Error).message}`);
    }
  };
  set('nodeName', 'hostnameOverride', config.hostnameOverride);
  set('clusterCidr', 'clusterCIDR', config.clusterCIDR);
  set('healthzBindAddress', 'healthzBindAddress', withPort(config.healthzBindAddress, HEALTHZ_PORT));
  set('metricsBindAddress', 'metricsBindAddress', withPort(config.metricsBindAddress, METRICS_PORT));
  if (config.nodePortAddresses?.length) set('nodeportAddresses', 'nodePortAddresses', config.nodePortAddresses);
  set('kubeconfig', 'clientConnection.kubeconfig', config.clientConnection?.kubeconfig);
  // kube-proxy's defaults for 0: qps 5, burst 10, kplane's own defaults as well.
  const { qps, burst } = config.clientConnection ?? {};
  set('kubeApiQps', 'clientConnection.qps', qps ? String(qps) : undefined);
  set('kubeApiBurst', 'clientConnection.burst', burst ? String(burst) : undefined);
  if (config.logging?.verbosity) set('logLevel', 'logging.verbosity', levelForVerbosity(String(config.logging.verbosity), `logging.verbosity (${setting})`));
  set('masqueradeAll', `${sections.masquerade}.masqueradeAll`, masquerading?.masqueradeAll);
  // null is kube-proxy's 14, kplane's default too; 0 is a real bit.
  if (typeof masquerading?.masqueradeBit === 'number') settings.masqueradeBit = { value: String(masquerading.masqueradeBit), field: `${sections.masquerade}.masqueradeBit` };
  // 0s means kube-proxy's default (kplane's then), except ipvs.minSyncPeriod, which kube-proxy never defaults: 0 syncs on every change.
  const syncField = `${sections.sync}.syncPeriod`;
  const minSyncField = `${sections.sync}.minSyncPeriod`;
  if (syncing?.syncPeriod && durationMs(syncField, syncing.syncPeriod) > 0) settings.syncPeriod = { value: syncing.syncPeriod, field: syncField };
  if (syncing?.minSyncPeriod && durationMs(minSyncField, syncing.minSyncPeriod) > 0) settings.minSyncPeriod = { value: syncing.minSyncPeriod, field: minSyncField };
  else if (mode.mode === 'ipvs') settings.minSyncPeriod = { value: '0s', field: minSyncField };
  if (mode.mode === 'ipvs') set('backendOpt', 'ipvs.scheduler', config.ipvs?.scheduler ? [`scheduler=${config.ipvs.scheduler}`] : undefined);
  const read = new Set([
    ...COMMON_FIELDS,
    `${sections.masquerade}.masqueradeAll`, `${sections.masquerade}.masqueradeBit`, syncField, minSyncField,
    ...(mode.mode === 'ipvs' ? ['ipvs.scheduler'] : []),
  ]);
  return { mode, settings, ignored: leafPaths(raw, '').filter((field) => !read.has(field)) };
}

function yaml(text: string, fail: (message: string) => never): Record<string, unknown> {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    fail(`not YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) fail('expected a YAML mapping (a KubeProxyConfiguration or its ConfigMap)');
  return document as Record<string, unknown>;
}

/** kube-proxy's AppendPortIfNeeded: a bare IP gets the default port. */
function withPort(address: string | null | undefined, port: number): string | undefined {
  if (!address) return undefined;
  const ip = canonicalIP(address);
  if (ip === null) return address;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Every leaf's dotted path (`conntrack.maxPerCore`); an empty mapping holds nothing. */
function leafPaths(value: unknown, prefix: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, prefix ? `${prefix}.${key}` : key));
}
