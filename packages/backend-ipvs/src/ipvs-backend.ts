import {
  TOKENS, ToolMissingError, endpointAddress, ensureForwardAccept, inject, injectable, removeForwardAccept,
  type DataplaneBackend, type Endpoint, type Executor, type Feature, type Logger, type ProxyConfig, type SyncRequest,
} from '@kplane/core';
import type { IpvsClient } from './client/client.js';
import { whenToolFails } from './client/tool-failure.js';
import { parseAddressListing } from './kernel/address-listing.js';
import { connectionCounts } from './kernel/connections.js';
import { listRules } from './kernel/iptables-listing.js';
import { listKernel, ownedState, parseAddresses, parseIpsetSave, parseIpvsadmSave } from './kernel/kernel-state.js';
import { nodeAddresses } from './kernel/node-addresses.js';
import { ipvsHasSctp } from './kernel/sctp-support.js';
import { ipvsSysctls, sysctlValues, type SysctlChoice } from './kernel/sysctls.js';
import { IpvsAudit } from './planner/audit.js';
import { kernelDiff } from './planner/diff.js';
import { emptyModel } from './planner/model.js';
import { DUMMY_INTERFACE } from './planner/names.js';
import { dummyCleanup, rulesCleanup, servicesCleanup, setsCleanup } from './planner/plan-cleanup.js';
import { planFull } from './planner/plan-full.js';
import { planPartial } from './planner/plan-partial.js';
import type { IpvsPlan } from './planner/plan.js';
import type { PortSettings } from './planner/port-objects.js';
import { FAMILIES } from './planner/sets.js';
import { ipvsSettings } from './options.js';

/** The IpvsClient binding: ExecIpvsClient by default, a FakeIpvsClient in tests. */
export const IPVS_CLIENT = Symbol.for('kplane.ipvs.IpvsClient');

/** A kernel release to plan for (tests pin one), or null: the running kernel's, read at init. */
export const KERNEL_RELEASE = Symbol.for('kplane.ipvs.KernelRelease');

/** What a dry run plans for when it cannot read the release: a current kernel (Debian 12's). */
const DRY_RUN_RELEASE = '6.1.0';

/**
 * IPVS virtual services in NAT mode. Each sync writes one batch per tool: `ipset restore`
 * (frontend records and the sets the iptables rules match), `iptables-restore --noflush` per
 * family when kplane's chains change, `ipvsadm -R` (only the changed virtual services), `ip -batch`
 * (service addresses on kplane-ipvs0); a full sync also writes the sysctls. Between full syncs the
 * kernel is never listed: the backend plans against its model, which only a plan's `commit()`
 * changes, once the client applied every batch of the plan.
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
  private sysctls?: { readonly release: string; readonly choices: readonly SysctlChoice[] };
  private model = emptyModel();
  private readonly drift: IpvsAudit;

  constructor(
    @inject(IPVS_CLIENT) private readonly client: IpvsClient,
    @inject(TOKENS.Executor) private readonly executor: Executor,
    @inject(TOKENS.Config) private readonly config: ProxyConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(KERNEL_RELEASE) private readonly kernelRelease: string | null,
  ) {
    this.settings = ipvsSettings(config);
    this.drift = new IpvsAudit(client);
  }

  async init(): Promise<void> {
    await this.client.listServices().catch((error: unknown) => {
      throw new Error(`IPVS is not usable on this node (it needs the ip_vs kernel module and ipvsadm): ${error instanceof Error ? error.message : String(error)}`);
    });
    const { release, choices } = await this.chooseSysctls();
    await this.checkSctp(release);
    await this.dropServiceAddresses();
    for (const { key, value, reason } of choices) {
      this.logger.info({ kernel: release, sysctl: key, value: value ?? 'left alone', reason }, 'IPVS sysctl chosen by kernel version');
    }
  }

  /** The sysctls for the kernel's release, read once. */
  private async chooseSysctls(): Promise<{ readonly release: string; readonly choices: readonly SysctlChoice[] }> {
    if (!this.sysctls) {
      const release = (this.kernelRelease ?? (await this.client.kernelRelease())) || DRY_RUN_RELEASE;
      this.sysctls = { release, choices: ipvsSysctls(release) };
    }
    return this.sysctls;
  }

  private async checkSctp(release: string): Promise<void> {
    const sctp = ipvsHasSctp(await this.client.ipvsProtocolSymbols());
    if (sctp === false) {
      this.features.delete('SCTP');
      this.logger.warn({ kernel: release }, 'IPVS in this kernel has no SCTP (CONFIG_IP_VS_PROTO_SCTP): SCTP service ports are skipped');
    } else if (sctp === null) {
      this.logger.info({ kernel: release }, 'cannot tell from /proc/kallsyms whether IPVS has SCTP: SCTP service ports are programmed');
    }
  }

  /** NodePorts never open on the service addresses a previous kplane left on the dummy interface. */
  private async dropServiceAddresses(): Promise<void> {
    const listing = parseAddressListing((await this.client.listAddresses()) ?? '');
    const { kept, dropped } = nodeAddresses(this.settings.nodePortIPs, listing);
    if (dropped.length === 0) return;
    this.logger.info({ dropped, interface: DUMMY_INTERFACE }, 'node addresses that only the service-address interface holds do not answer NodePorts');
    this.settings = { ...this.settings, nodePortIPs: kept };
  }

  async sync({ full, changed, state }: SyncRequest): Promise<void> {
    if (full) {
      // Lists the kernel (the only time the backend does), then converges everything it owns.
      const [listing, ...rules] = await Promise.all([listKernel(this.client), ...FAMILIES.map((family) => listRules(this.client, family))]);
      const plan = planFull(this.model, { listing, rules: new Map(FAMILIES.map((family, index) => [family, rules[index]!])) }, state, this.settings, this.config);
      await this.client.writeSysctls(sysctlValues((await this.chooseSysctls()).choices));
      await this.apply(plan);
      await ensureForwardAccept(this.executor);
      plan.commit();
    } else {
      const plan = planPartial(this.model, changed, state, this.settings);
      await this.apply(plan);
      plan.commit();
    }
  }

  /**
   * Drift check between syncs (core calls it every --audit-period): the kernel's virtual services,
   * set counts and one set's members, service addresses and chains against the model (IpvsAudit,
   * which says what it costs); core runs a full sync on any difference.
   */
  audit(): Promise<readonly string[]> {
    return this.drift.run(this.model);
  }

  /** `kplane plan --diff`: the whole kernel, listed as a full sync lists it, against the last (dry-run) sync's plan (planner/diff.ts). */
  async diff(): Promise<readonly string[]> {
    const [listing, ...rules] = await Promise.all([listKernel(this.client), ...FAMILIES.map((family) => listRules(this.client, family))]);
    return kernelDiff(this.model.kernel, listing, new Map(FAMILIES.map((family, index) => [family, rules[index]!])));
  }

  /** Connections of the draining (weight 0) real servers in kplane's virtual services, from one `ipvsadm -L -n`. */
  async activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    const counts = connectionCounts(await this.client.listServices(), (key) => this.model.kernel.services.has(key));
    return new Map(endpoints.map((endpoint) => [endpointAddress(endpoint), counts.get(endpointAddress(endpoint)) ?? 0]));
  }

  /**
   * Removes everything the ipvs backend wrote, found in the kernel by its marks: the jumps and
   * chains, the virtual services whose address is on kplane-ipvs0 or that kplane's frontend sets
   * record, the dummy interface, the sets, core's FORWARD accept rule. Each tool on its own: one
   * that is not installed is skipped with a warning (nothing of it to remove), the rest is cleaned.
   */
  async cleanup(): Promise<void> {
    for (const family of FAMILIES) {
      // A family whose tables cannot be listed has none of kplane's rules.
      const listing = await this.unlessMissing(() => listRules(this.client, family).catch(whenToolFails(null)));
      if (listing) await this.client.restoreRules(family, rulesCleanup(listing));
    }
    const services = await this.unlessMissing(() => this.client.saveServices());
    const sets = await this.unlessMissing(() => this.client.saveSets());
    const addresses = await this.unlessMissing(() => this.client.listAddresses(DUMMY_INTERFACE));
    // The dummy exists when its listing answered, even with no address on it.
    const vips = addresses === undefined || addresses === null ? null : parseAddresses(addresses);
    const listing = { services: parseIpvsadmSave(services ?? ''), sets: parseIpsetSave(sets ?? ''), vips };
    const kernel = ownedState(listing, new Map(), () => false);
    if (services !== undefined) await this.client.restoreServices(servicesCleanup(kernel));
    if (addresses !== undefined) await this.client.runIp(dummyCleanup(kernel));
    if (sets !== undefined) await this.client.restoreSets(setsCleanup(listing.sets.keys()));
    await removeForwardAccept(this.executor);
    this.model = emptyModel();
  }

  /** Runs one tool's step; a tool that is not installed is skipped with a warning (undefined). */
  private async unlessMissing<T>(step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof ToolMissingError)) throw error;
      this.logger.warn({ tool: error.tool }, `${error.tool} is not installed: cleanup skips its objects`);
      return undefined;
    }
  }

  /** Sets first (records and what the rules match), then rules, virtual services, and the dummy's addresses last. */
  private async apply(plan: IpvsPlan): Promise<void> {
    await this.client.restoreSets(plan.sets);
    for (const family of FAMILIES) {
      const rules = plan.rules.get(family);
      if (rules) await this.client.restoreRules(family, rules);
    }
    await this.client.restoreServices(plan.services);
    await this.client.runIp(plan.addresses);
  }
}
