import {
  TOKENS, ToolError, endpointAddress, ensureForwardAccept, inject, injectable,
  type DataplaneBackend, type Endpoint, type Executor, type Feature, type IPFamily, type Logger, type ProxyConfig, type ProxyState,
  type ServicePortKey, type SyncRequest,
} from '@kplane/core';
import { parseAddressListing } from './address-listing.js';
import { removeIpvsObjects } from './cleanup.js';
import { connectionCounts } from './connections.js';
import { DesiredIndex } from './desired-index.js';
import { jumpCount, listRules } from './iptables-listing.js';
import { iptablesTool, JUMPS, kplaneChains, localChain, serviceCIDRChain, type Chain, type Jump } from './iptables-rules.js';
import { listKernel, ownedState, type KernelState } from './kernel-state.js';
import { DUMMY_INTERFACE } from './names.js';
import { nodeAddresses } from './node-addresses.js';
import { applyUpdates, planSync, type Plan } from './planner.js';
import { portObjects, type PortObjects, type PortSettings } from './port-objects.js';
import { FAMILIES } from './sets.js';
import { ipvsSettings } from './settings.js';
import { IPVS_PROTOCOLS_QUERY, ipvsHasSctp } from './sctp-support.js';
import { ipvsSysctls, sysctlInput, type SysctlChoice } from './sysctls.js';

/** The running kernel's release (`uname -r`): the IPVS sysctls depend on it. */
export const KERNEL_RELEASE = Symbol.for('kplane.ipvs.KernelRelease');

/**
 * IPVS virtual services in NAT mode. Each sync writes one batch per tool: `ipset restore`
 * (frontend records and the sets the iptables rules match), `ipvsadm -R` (only the changed virtual
 * services), `ip -batch` (service addresses on kplane-ipvs0), `iptables-restore --noflush` per
 * family when kplane's chains change; a full sync also writes the sysctls. Between full syncs the
 * kernel is never listed: the backend predicts it from what it wrote.
 */
@injectable()
export class IpvsBackend implements DataplaneBackend {
  readonly name = 'ipvs';
  readonly description = 'IPVS virtual services (ipvsadm -R) with batched ipset restore, service addresses on a dummy interface';
  // init() takes SCTP out when the kernel's IPVS cannot balance it (core holds this very set, and then skips SCTP ports).
  readonly features = new Set<Feature>([
    'TCP', 'UDP', 'SCTP', 'IPv4', 'IPv6', 'NodePort', 'ExternalIP', 'LoadBalancerIP', 'LoadBalancerSourceRanges',
    'SessionAffinity', 'ExternalTrafficPolicyLocal', 'InternalTrafficPolicyLocal',
  ]);
  readonly usesConntrack = true;
  readonly optionKeys = ['scheduler'];
  private settings: PortSettings;
  private readonly sysctls: readonly SysctlChoice[];
  private readonly desired = new DesiredIndex();
  /** What the last successful sync left in the kernel; null until a full sync has listed it (or after a failure). */
  private kernel: KernelState | null = null;

  constructor(
    @inject(TOKENS.Executor) private readonly executor: Executor,
    @inject(TOKENS.Config) private readonly config: ProxyConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(KERNEL_RELEASE) private readonly kernelRelease: string,
  ) {
    this.settings = ipvsSettings(config);
    this.sysctls = ipvsSysctls(kernelRelease);
  }

  async init(): Promise<void> {
    if (this.executor.live) {
      await this.executor.read({ tool: 'ipvsadm', args: ['-L', '-n'] }).catch((error: unknown) => {
        throw new Error(`IPVS is not usable on this node (it needs the ip_vs kernel module and ipvsadm): ${error instanceof Error ? error.message : String(error)}`);
      });
      await this.checkSctp();
      await this.dropServiceAddresses();
    }
    for (const { key, value, reason } of this.sysctls) {
      this.logger.info({ kernel: this.kernelRelease, sysctl: key, value: value ?? 'left alone', reason }, 'IPVS sysctl chosen by kernel version');
    }
  }

  private async checkSctp(): Promise<void> {
    const symbols = await this.executor.read(IPVS_PROTOCOLS_QUERY).catch((error: unknown) => {
      if (error instanceof ToolError) return '';
      throw error;
    });
    const sctp = ipvsHasSctp(symbols);
    if (sctp === false) {
      this.features.delete('SCTP');
      this.logger.warn({ kernel: this.kernelRelease }, 'IPVS in this kernel has no SCTP (CONFIG_IP_VS_PROTO_SCTP): SCTP service ports are skipped');
    } else if (sctp === null) {
      this.logger.info({ kernel: this.kernelRelease }, 'cannot tell from /proc/kallsyms whether IPVS has SCTP: SCTP service ports are programmed');
    }
  }

  /** NodePorts never open on the service addresses a previous kplane left on the dummy interface. */
  private async dropServiceAddresses(): Promise<void> {
    const listing = parseAddressListing(await this.executor.read({ tool: 'ip', args: ['-o', 'address', 'show'] }));
    const { kept, dropped } = nodeAddresses(this.settings.nodePortIPs, listing);
    if (dropped.length === 0) return;
    this.logger.info({ dropped, interface: DUMMY_INTERFACE }, 'node addresses that only the service-address interface holds do not answer NodePorts');
    this.settings = { ...this.settings, nodePortIPs: kept };
  }

  async sync({ full, changed, state }: SyncRequest): Promise<void> {
    try {
      if (full || !this.kernel) await this.fullSync(state);
      else await this.partialSync(this.kernel, changed, state);
    } catch (error) {
      // After a failed batch the kernel is unknown: the next sync (full) lists it again.
      this.kernel = null;
      throw error;
    }
  }

  /** Connections of the draining (weight 0) real servers in kplane's virtual services, from one `ipvsadm -L -n`. */
  async activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    const listing = await this.executor.read({ tool: 'ipvsadm', args: ['-L', '-n'] });
    const counts = connectionCounts(listing, (key) => this.kernel?.services.has(key) ?? false);
    return new Map(endpoints.map((endpoint) => [endpointAddress(endpoint), counts.get(endpointAddress(endpoint)) ?? 0]));
  }

  async cleanup(): Promise<void> {
    this.kernel = null;
    this.desired.clear();
    await removeIpvsObjects(this.executor);
  }

  /** Lists the kernel (the only time the backend does), then converges everything it owns. */
  private async fullSync(state: ProxyState): Promise<void> {
    this.desired.clear();
    for (const port of state.values()) this.desired.replace(port.servicePort.key, portObjects(port, this.settings));
    const [listing, ...rules] = await Promise.all([listKernel(this.executor), ...FAMILIES.map((family) => listRules(this.executor, family))]);
    const listed = new Map(FAMILIES.map((family, index) => [family, rules[index]!]));
    const kernel = ownedState(listing, listed, (key) => this.desired.service(key) !== undefined);
    const missingJumps = new Map<IPFamily, Jump[]>(FAMILIES.map((family) => [family, JUMPS.filter((jump) => jumpCount(listed.get(family)!, jump) === 0)]));
    const plan = planSync(kernel, this.desired, {
      full: true,
      services: [...kernel.services.keys(), ...this.desired.serviceKeys()],
      members: [...kernel.members, ...this.desired.allMembers()],
      vips: [...kernel.vips, ...this.desired.allVips()],
      chains: FAMILIES.flatMap((family) => kplaneChains(family, this.config, this.desired.shortcutRules(family), state.serviceCIDRs)),
      missingJumps,
    });
    await this.executor.apply({ tool: 'sysctl', args: ['-p', '-'], input: sysctlInput(this.sysctls) });
    await this.applyPlan(plan);
    await ensureForwardAccept(this.executor);
    applyUpdates(kernel, plan.updates);
    this.kernel = kernel;
  }

  /** Only the changed ports' objects: no listing, no work for the others. */
  private async partialSync(kernel: KernelState, changed: ReadonlySet<ServicePortKey>, state: ProxyState): Promise<void> {
    const services = new Set<string>();
    const members = new Set<string>();
    const vips = new Set<string>();
    const shortcutFamilies = new Set<IPFamily>();
    const collect = (objects: PortObjects | undefined): void => {
      for (const service of objects?.services ?? []) services.add(service.key);
      for (const entry of objects?.members ?? []) members.add(entry);
      for (const vip of objects?.vips ?? []) vips.add(vip);
    };
    for (const key of changed) {
      const port = state.get(key);
      const next = port && portObjects(port, this.settings);
      const previous = this.desired.replace(key, next);
      collect(previous);
      collect(next);
      // The shortcut chain is rebuilt only for a family whose rules this port changed (an endpoint change leaves them alone).
      for (const rule of symmetricDifference(previous?.shortcuts ?? [], next?.shortcuts ?? [])) shortcutFamilies.add(Number(rule[0]) as IPFamily);
    }
    // The service-CIDR chains go along every time: the plan writes one only when its rules differ from the kernel's.
    const chains: Chain[] = [
      ...[...shortcutFamilies].map((family) => localChain(family, this.desired.shortcutRules(family))),
      ...FAMILIES.map((family) => serviceCIDRChain(family, state.serviceCIDRs)),
    ];
    const plan = planSync(kernel, this.desired, { full: false, services, members, vips, chains, missingJumps: new Map() });
    await this.applyPlan(plan);
    applyUpdates(kernel, plan.updates);
  }

  /** Sets first (records and what the rules match), then rules, virtual services, and the dummy's addresses last. */
  private async applyPlan(plan: Plan): Promise<void> {
    if (plan.ipset) await this.executor.apply({ tool: 'ipset', args: ['restore', '-exist'], input: plan.ipset });
    for (const [family, input] of plan.iptables) await this.executor.apply({ tool: `${iptablesTool(family)}-restore`, args: ['--noflush', '-w', '5'], input });
    if (plan.ipvsadm) await this.executor.apply({ tool: 'ipvsadm', args: ['-R'], input: plan.ipvsadm, failOnStderr: true });
    if (plan.ip) await this.executor.apply({ tool: 'ip', args: ['-batch', '-'], input: plan.ip });
  }
}

/** Items in exactly one of the two lists. */
function symmetricDifference(a: readonly string[], b: readonly string[]): string[] {
  const inA = new Set(a);
  const inB = new Set(b);
  return [...a.filter((item) => !inB.has(item)), ...b.filter((item) => !inA.has(item))];
}
