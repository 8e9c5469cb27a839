import { hostname, networkInterfaces } from 'node:os';
import type { Command } from 'commander';
import { DEFAULT_CONFIG, type ProxyConfig } from '../config/proxy-config.js';
import { parseDuration } from '../config/duration.js';
import { readKubeProxyConfiguration } from '../config/kube-proxy-configuration.js';
import { canonicalCIDR, canonicalIP } from '../model/ip.js';
import type { Logger } from '../logging/logger.js';

/** Everything `kplane run` and `kplane plan` are told on the command line, resolved and validated. */
export interface ProxyOptions {
  readonly config: ProxyConfig;
  readonly backend: string;
  readonly backendModule: string | undefined;
  readonly source: string;
  readonly kubeconfig: string | undefined;
  readonly kubeApiQps: number;
  readonly kubeApiBurst: number;
  readonly serviceProxyName: string;
  readonly metricsBindAddress: string;
  readonly healthzBindAddress: string;
  readonly logLevel: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function addProxyOptions(command: Command): Command {
  return command
    .option('--backend <name>', 'built-in backend: nft, iptables or ipvs', 'nft')
    .option('--backend-module <path|package>', 'load a backend plugin (a file, a package directory or a package name); overrides --backend')
    .option('--backend-opt <key=value>', 'backend-specific option (repeatable)', collect)
    .option('--source <source>', 'where Services and EndpointSlices come from: "kubernetes" or "file:PATH"', 'kubernetes')
    .option('--kubeconfig <path>', 'kubeconfig for the kubernetes source (default: in-cluster, then ~/.kube/config)')
    .option('--kube-api-qps <qps>', 'requests per second to the API server', '5')
    .option('--kube-api-burst <n>', 'requests allowed in a burst above --kube-api-qps', '10')
    .option('--service-proxy-name <name>', 'also program Services labelled service.kubernetes.io/service-proxy-name=<name> (others with that label are skipped)', '')
    .option('--node-name <name>', 'this node\'s name (default: the hostname)')
    .option('--node-ip <ip>', 'this node\'s address for NodePorts (repeatable; default: detected)', collect)
    .option('--cluster-cidr <cidrs>', 'pod CIDRs, comma-separated (dual-stack): traffic from elsewhere is masqueraded')
    .option('--service-cidr <cidrs>', 'service CIDRs, comma-separated (dual-stack), for clusters without ServiceCIDR objects: unallocated addresses in them are dropped')
    .option('--masquerade-all', 'masquerade all traffic to services')
    .option('--masquerade-bit <bit>', 'packet mark bit that flags masquerade (0-31)', '14')
    .option('--nodeport-addresses <cidrs>', 'CIDRs whose local addresses answer NodePorts, comma-separated (default: all)')
    .option('--min-sync-period <duration>', 'minimum time between syncs', '1s')
    .option('--sync-period <duration>', 'full reconcile period', '1h')
    .option('--drain-grace <duration>', 'longest time a removed endpoint keeps its established connections', '30s')
    .option('--healthz-timeout <duration>', '/healthz fails when a change has been pending this long', '60s')
    .option('--metrics-bind-address <host:port>', 'where /metrics listens ("" disables)', '127.0.0.1:10249')
    .option('--healthz-bind-address <host:port>', 'where /healthz and /livez listen ("" disables)', '0.0.0.0:10256')
    .option('--config <file>', 'a KubeProxyConfiguration file; flags given on the command line win')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info');
}

/** Merges --config under the command-line flags and validates the result. */
export function resolveProxyOptions(command: Command, logger: Logger): ProxyOptions {
  const flags = { ...command.opts() } as Record<string, unknown>;
  if (typeof flags.config === 'string') {
    const file = readKubeProxyConfiguration(flags.config);
    for (const field of file.ignored) logger.warn({ field }, `KubeProxyConfiguration field "${field}" is not supported by kplane; ignored`);
    for (const [name, value] of Object.entries(file.flags)) {
      if (command.getOptionValueSource(name) !== 'cli') flags[name] = value;
    }
  }
  const text = (name: string): string | undefined => flags[name] as string | undefined;
  const list = (name: string): string[] => (text(name) ?? '').split(',').map((item) => item.trim()).filter(Boolean);
  const masqueradeBit = Number(text('masqueradeBit'));
  if (!Number.isInteger(masqueradeBit) || masqueradeBit < 0 || masqueradeBit > 31) throw new Error(`--masquerade-bit ${text('masqueradeBit')}: expected 0..31`);
  const config: ProxyConfig = {
    ...DEFAULT_CONFIG,
    nodeName: text('nodeName') ?? hostname().toLowerCase(),
    nodeIPs: ((flags.nodeIp as string[] | undefined) ?? detectNodeIPs()).map((ip) => valid(canonicalIP(ip), '--node-ip', ip)),
    clusterCIDRs: list('clusterCidr').map((cidr) => valid(canonicalCIDR(cidr), '--cluster-cidr', cidr)),
    serviceCIDRs: list('serviceCidr').map((cidr) => valid(canonicalCIDR(cidr), '--service-cidr', cidr)),
    masqueradeAll: flags.masqueradeAll === true,
    masqueradeBit,
    nodePortAddresses: list('nodeportAddresses').map((cidr) => valid(canonicalCIDR(cidr), '--nodeport-addresses', cidr)),
    minSyncPeriodMs: parseDuration(text('minSyncPeriod')!),
    syncPeriodMs: parseDuration(text('syncPeriod')!),
    drainGraceMs: parseDuration(text('drainGrace')!),
    healthzTimeoutMs: parseDuration(text('healthzTimeout')!),
    backendOptions: new Map(((flags.backendOpt as string[] | undefined) ?? []).map(parseBackendOption)),
  };
  if (config.syncPeriodMs <= 0) throw new Error('--sync-period must be positive');
  const kubeApiQps = Number(text('kubeApiQps'));
  const kubeApiBurst = Number(text('kubeApiBurst'));
  if (!(kubeApiQps > 0)) throw new Error(`--kube-api-qps ${text('kubeApiQps')}: expected a positive number`);
  if (!Number.isInteger(kubeApiBurst) || kubeApiBurst < 1) throw new Error(`--kube-api-burst ${text('kubeApiBurst')}: expected a positive integer`);
  return {
    config,
    backend: text('backend')!,
    backendModule: text('backendModule'),
    source: text('source')!,
    kubeconfig: text('kubeconfig'),
    kubeApiQps,
    kubeApiBurst,
    serviceProxyName: text('serviceProxyName')!,
    metricsBindAddress: text('metricsBindAddress')!,
    healthzBindAddress: text('healthzBindAddress')!,
    logLevel: text('logLevel')!,
  };
}

function parseBackendOption(text: string): [string, string] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new Error(`--backend-opt ${text}: expected key=value`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}

function valid(value: string | null, flag: string, text: string): string {
  if (value === null) throw new Error(`${flag} ${text}: invalid`);
  return value;
}

/** Global unicast addresses of this host, both families. */
function detectNodeIPs(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((address) => address && !address.internal && !address.address.startsWith('fe80:'))
    .map((address) => address!.address);
}
