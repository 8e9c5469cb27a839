import { hostname, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Command } from 'commander';
import { DEFAULT_CONFIG, type ProxyConfig } from '../config/proxy-config.js';
import { parseDuration } from '../config/duration.js';
import { kubeProxyMode, readKubeProxyConfiguration, type KubeProxyConfigurationFile, type KubeProxyMode } from '../config/kube-proxy-configuration.js';
import { parseBindAddress } from '../health/http-server.js';
import { canonicalCIDR, canonicalIP, hostCIDR, ipFamily } from '../model/ip.js';
import { checkLogLevel, levelForVerbosity, type Logger } from '../logging/logger.js';

/** Everything `kplane run` and `kplane plan` are told on the command line, resolved and validated. */
export interface ProxyOptions {
  readonly config: ProxyConfig;
  readonly backend: string;
  /** Why this backend: the flag or config field that chose it, or kplane's default. */
  readonly backendReason: string;
  readonly backendModule: string | undefined;
  readonly source: string;
  readonly kubeconfig: string | undefined;
  /** Where the kubeconfig path came from (`--kubeconfig`, `clientConnection.kubeconfig (--config F)`), for error messages. */
  readonly kubeconfigSetting: string;
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
    .option('--proxy-mode <mode>', 'kube-proxy\'s spelling: iptables, ipvs or nftables (the nft backend; NodePorts default to primary); instead of --backend')
    .option('--backend-module <path|package>', 'load a backend plugin (a file, a package directory or a package name); overrides --backend')
    .option('--backend-opt <key=value>', 'backend-specific option (repeatable)', collect)
    .option('--source <source>', 'where Services and EndpointSlices come from: "kubernetes" or "file:PATH"', 'kubernetes')
    .option('--kubeconfig <path>', 'kubeconfig for the kubernetes source (default: in-cluster, then ~/.kube/config)')
    .option('--kube-api-qps <qps>', 'requests per second to the API server', '5')
    .option('--kube-api-burst <n>', 'requests allowed in a burst above --kube-api-qps', '10')
    .option('--service-proxy-name <name>', 'also program Services labelled service.kubernetes.io/service-proxy-name=<name> (others with that label are skipped)', '')
    .option('--node-name <name>', 'this node\'s name (default: the hostname)')
    .option('--hostname-override <name>', 'kube-proxy\'s spelling of --node-name')
    .option('--node-ip <ip>', 'this node\'s address for NodePorts (repeatable; default: detected)', collect)
    .option('--cluster-cidr <cidrs>', 'pod CIDRs, comma-separated (dual-stack): traffic from elsewhere is masqueraded')
    .option('--service-cidr <cidrs>', 'service CIDRs, comma-separated (dual-stack), for clusters without ServiceCIDR objects: unallocated addresses in them are dropped')
    .option('--masquerade-all', 'masquerade all traffic to services')
    .option('--masquerade-bit <bit>', 'packet mark bit that flags masquerade (0-31)', '14')
    .option('--nodeport-addresses <cidrs>', 'CIDRs whose local addresses answer NodePorts, comma-separated; also kube-proxy\'s keywords primary (the first node IP of each family), localhost and all (default: all)')
    .option('--min-sync-period <duration>', 'minimum time between syncs', '1s')
    .option('--sync-period <duration>', 'full reconcile period', '1h')
    .option('--drain-grace <duration>', 'longest time a removed endpoint keeps its established connections', '30s')
    .option('--healthz-timeout <duration>', '/healthz fails when a change has been pending this long', '60s')
    .option('--tool-timeout <duration>', 'a dataplane tool (nft, iptables-restore, ...) running longer than this on one batch is killed and the sync retried', '60s')
    .option('--audit-period <duration>', 'how often the backend checks its rules in the kernel for changes from outside, repaired by a full sync (0 disables)', '5s')
    .option('--service-counters', 'count packets and bytes per Service port in the rules, exported as kplane_service_packets_total / kplane_service_bytes_total')
    .option('--service-counters-limit <n>', 'most Service ports exported with --service-counters (the others are counted in kplane_service_counters_overflow_total)', '5000')
    .option('--metrics-bind-address <host:port>', 'where /metrics listens ("" disables)', '127.0.0.1:10249')
    .option('--healthz-bind-address <host:port>', 'where /healthz and /livez listen ("" disables)', '0.0.0.0:10256')
    .option('--config <file>', 'a KubeProxyConfiguration file, or kubeadm\'s kube-proxy ConfigMap holding one; flags given on the command line win')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .option('--v <verbosity>', 'kube-proxy\'s klog verbosity instead of --log-level: 0-2 info, 3-4 debug, 5+ trace');
}

/** kube-proxy's flag spellings that stand for a kplane option, and how their value translates. */
const ALIASES: Readonly<Record<string, { readonly alias: string; readonly convert: (value: string, setting: string) => string }>> = {
  nodeName: { alias: 'hostnameOverride', convert: (value) => value },
  logLevel: { alias: 'v', convert: levelForVerbosity },
};

/** A resolved value and the setting it came from, for error messages: `--masquerade-bit`, `iptables.masqueradeBit (--config F)`. */
interface Resolved {
  readonly value: unknown;
  readonly setting: string;
}

/** Merges --config under the command-line flags (kube-proxy's spellings included) and validates the result. */
export function resolveProxyOptions(command: Command, logger: Logger): ProxyOptions {
  const flags = command.opts();
  const onCommandLine = (name: string): boolean => command.getOptionValueSource(name) === 'cli';
  const flag = (name: string): string => command.options.find((option) => option.attributeName() === name)!.long!;
  const configPath = typeof flags.config === 'string' ? flags.config : undefined;
  const file = configPath === undefined ? null : readKubeProxyConfiguration(configPath);
  if (file && file.ignored.length > 0) {
    logger.warn({ config: configPath, mode: file.mode.mode, fields: file.ignored }, 'KubeProxyConfiguration fields that kplane does not read in this mode; ignored');
  }
  const get = (name: string): Resolved => {
    const alias = ALIASES[name];
    if (alias && onCommandLine(alias.alias)) {
      if (onCommandLine(name)) throw new Error(`${flag(name)} and ${flag(alias.alias)} set the same thing: give one of them`);
      return { value: alias.convert(flags[alias.alias] as string, flag(alias.alias)), setting: flag(alias.alias) };
    }
    const fromFile = file?.settings[name];
    if (onCommandLine(name) || !fromFile) return { value: flags[name], setting: flag(name) };
    return { value: fromFile.value, setting: `${fromFile.field} (--config ${configPath})` };
  };
  const text = (name: string): string | undefined => get(name).value as string | undefined;
  const list = (name: string): string[] => {
    const { value } = get(name);
    return (Array.isArray(value) ? value as string[] : String(value ?? '').split(',')).map((item) => item.trim()).filter(Boolean);
  };
  const duration = (name: string): number => {
    const { value, setting } = get(name);
    try {
      return parseDuration(value as string);
    } catch (error) {
      throw new Error(`${setting}: ${(error as Error).message}`);
    }
  };
  const choice = chooseBackend(command, file);
  const masqueradeBit = Number(text('masqueradeBit'));
  if (!Number.isInteger(masqueradeBit) || masqueradeBit < 0 || masqueradeBit > 31) throw new Error(`${get('masqueradeBit').setting} ${text('masqueradeBit')}: expected 0..31`);
  const nodeName = (text('nodeName') ?? hostname()).trim().toLowerCase();
  if (nodeName === '') throw new Error(`${get('nodeName').setting}: empty`);
  const nodeIPs = ((flags.nodeIp as string[] | undefined) ?? detectNodeIPs()).map((ip) => valid(canonicalIP(ip), '--node-ip', ip));
  let nodePort = { items: list('nodeportAddresses'), setting: get('nodeportAddresses').setting };
  if (nodePort.items.length === 0 && choice.mode === 'nftables') {
    nodePort = { items: ['primary'], setting: 'nodePortAddresses (unset in nftables mode: kube-proxy uses primary)' };
    logger.info({ nodePortAddresses: nodePort.items }, 'nftables mode without nodePortAddresses: NodePorts answer on the node\'s primary IPs, as kube-proxy\'s');
  }
  // The file's ipvs.scheduler is for the ipvs backend only, not for one chosen over the file's mode.
  const fileModeRuns = file !== null && choice.backend === file.mode.backend && !flags.backendModule;
  const fileBackendOptions = fileModeRuns ? (file.settings.backendOpt?.value as readonly string[] | undefined) ?? [] : [];
  const config: ProxyConfig = {
    ...DEFAULT_CONFIG,
    nodeName,
    nodeIPs,
    clusterCIDRs: list('clusterCidr').map((cidr) => valid(canonicalCIDR(cidr), get('clusterCidr').setting, cidr)),
    serviceCIDRs: list('serviceCidr').map((cidr) => valid(canonicalCIDR(cidr), '--service-cidr', cidr)),
    masqueradeAll: get('masqueradeAll').value === true,
    masqueradeBit,
    nodePortAddresses: nodePortCIDRs(nodePort.items, nodeIPs, nodePort.setting),
    minSyncPeriodMs: duration('minSyncPeriod'),
    syncPeriodMs: duration('syncPeriod'),
    drainGraceMs: duration('drainGrace'),
    healthzTimeoutMs: duration('healthzTimeout'),
    toolTimeoutMs: duration('toolTimeout'),
    auditPeriodMs: duration('auditPeriod'),
    serviceCounters: get('serviceCounters').value === true,
    serviceCountersLimit: Number(text('serviceCountersLimit')),
    // A key given on the command line wins over the same key from --config.
    backendOptions: new Map([...fileBackendOptions, ...((flags.backendOpt as string[] | undefined) ?? [])].map(parseBackendOption)),
  };
  if (config.syncPeriodMs <= 0) throw new Error(`${get('syncPeriod').setting} must be positive`);
  if (config.toolTimeoutMs <= 0) throw new Error(`${get('toolTimeout').setting} must be positive`);
  if (!Number.isInteger(config.serviceCountersLimit) || config.serviceCountersLimit < 0) {
    throw new Error(`${get('serviceCountersLimit').setting} ${text('serviceCountersLimit')}: expected a non-negative integer`);
  }
  const kubeApiQps = Number(text('kubeApiQps'));
  const kubeApiBurst = Number(text('kubeApiBurst'));
  if (!(kubeApiQps > 0)) throw new Error(`${get('kubeApiQps').setting} ${text('kubeApiQps')}: expected a positive number`);
  if (!Number.isInteger(kubeApiBurst) || kubeApiBurst < 1) throw new Error(`${get('kubeApiBurst').setting} ${text('kubeApiBurst')}: expected a positive integer`);
  // Checked here, not when the servers start: that is after the backend's init.
  for (const name of ['metricsBindAddress', 'healthzBindAddress']) bindAddress(get(name));
  return {
    config,
    backend: choice.backend,
    backendReason: choice.reason,
    backendModule: text('backendModule'),
    source: text('source')!,
    kubeconfig: text('kubeconfig'),
    kubeconfigSetting: get('kubeconfig').setting,
    kubeApiQps,
    kubeApiBurst,
    serviceProxyName: text('serviceProxyName')!,
    metricsBindAddress: text('metricsBindAddress')!,
    healthzBindAddress: text('healthzBindAddress')!,
    logLevel: checkLogLevel(text('logLevel')!, get('logLevel').setting),
  };
}

/** `--proxy-mode` (kube-proxy's spelling) or `--backend` on the command line, else the file's `mode`, else kplane's default. */
function chooseBackend(command: Command, file: KubeProxyConfigurationFile | null): { backend: string; reason: string; mode?: KubeProxyMode } {
  const flags = command.opts();
  const onCommandLine = (name: string): boolean => command.getOptionValueSource(name) === 'cli';
  if (onCommandLine('proxyMode')) {
    if (onCommandLine('backend')) throw new Error('--backend and --proxy-mode both choose the backend: give one of them');
    return kubeProxyMode(flags.proxyMode as string, '--proxy-mode');
  }
  if (onCommandLine('backend')) return { backend: flags.backend as string, reason: `--backend ${flags.backend as string}` };
  if (file) return file.mode;
  return { backend: flags.backend as string, reason: 'kplane\'s default backend' };
}

/**
 * `--nodeport-addresses` as CIDRs, with kube-proxy's keywords: `primary` (the node's first IP of each
 * family, as host CIDRs), `localhost`, and `all` (every local address: an empty list).
 */
function nodePortCIDRs(items: readonly string[], nodeIPs: readonly string[], setting: string): string[] {
  if (items.includes('all')) return [];
  return items.flatMap((item) => {
    if (item === 'localhost') return ['127.0.0.0/8', '::1/128'];
    if (item !== 'primary') return [valid(canonicalCIDR(item), setting, item)];
    const primary = [4, 6].map((family) => nodeIPs.find((ip) => ipFamily(ip) === family)).filter((ip) => ip !== undefined);
    if (primary.length === 0) throw new Error(`${setting} primary: no node IP is known (give --node-ip)`);
    return primary.map(hostCIDR);
  });
}

function bindAddress({ value, setting }: Resolved): void {
  if (value === '') return;
  try {
    parseBindAddress(value as string);
  } catch (error) {
    throw new Error(`${setting}: ${(error as Error).message}`);
  }
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

/**
 * Global unicast addresses of this host, both families. kplane's own interfaces are not the node's:
 * after a restart the ipvs backend's kplane-ipvs0 holds every service address.
 */
export function detectNodeIPs(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  return Object.entries(interfaces)
    .filter(([name]) => !name.startsWith('kplane-'))
    .flatMap(([, addresses]) => addresses ?? [])
    .filter((address) => !address.internal && !address.address.startsWith('fe80:'))
    .map((address) => address.address);
}
