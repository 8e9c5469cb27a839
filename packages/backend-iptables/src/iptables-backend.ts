import { existsSync } from 'node:fs';
import {
  TOKENS, conntrackConnections, ensureForwardAccept, inject, injectable, removeForwardAccept,
  type DataplaneBackend, type Endpoint, type Executor, type Feature, type IPFamily, type Logger, type ProxyConfig, type SyncRequest,
} from '@kplane/core';
import { parseSave, type KernelAudit } from './iptables/audit.js';
import { detectMode } from './iptables/mode.js';
import { FAMILIES, MODES, NFT_RESTORE_LINES, restoreBatch, saveQuery, versionQuery, type Mode } from './iptables/tools.js';
import { RestorePacker } from './iptables/restore-packer.js';
import { IPTABLES_TABLES } from '@kplane/core';
import { readOptions, type IptablesOptions } from './options.js';
import { FamilyTables } from './plan/family-tables.js';
import { familySettings } from './plan/settings.js';

/**
 * The iptables backend. Service IPs sit in a prefix tree of chains (O(log N) rules per packet, one
 * path rewritten per change), or in kube-proxy's flat layout with `layout=flat`. Each sync sends one
 * `iptables-restore --noflush` per IP family; a partial sync carries only the chains that differ
 * from the model of what was written, and the kernel is listed only before full syncs.
 */
@injectable()
export class IptablesBackend implements DataplaneBackend {
  readonly name = 'iptables';
  readonly description: string;
  readonly features = new Set<Feature>([
    'TCP', 'UDP', 'SCTP', 'IPv4', 'IPv6', 'NodePort', 'ExternalIP', 'LoadBalancerIP', 'LoadBalancerSourceRanges',
    'SessionAffinity', 'ExternalTrafficPolicyLocal', 'InternalTrafficPolicyLocal',
  ]);
  readonly usesConntrack = true;
  readonly optionKeys = ['layout', 'mode', 'leaf-size', 'drop-bit', 'reject-bit'];
  readonly options: IptablesOptions;
  private readonly families: Map<IPFamily, FamilyTables>;
  private detectedMode: Mode | null = null;
  /** False until a full sync succeeded, and after any failure: the next sync then audits and rewrites everything. */
  private trusted = false;

  constructor(
    @inject(TOKENS.Executor) private readonly executor: Executor,
    @inject(TOKENS.Config) config: ProxyConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {
    this.options = readOptions(config);
    this.description = `iptables, ${this.options.layout === 'tree' ? `prefix tree of chains (leaves of ${this.options.leafSize})` : 'flat kube-proxy layout'}`;
    // Without IPv6 in the kernel there is no ip6tables nat table to write.
    const families = !executor.live || existsSync('/proc/net/if_inet6') ? FAMILIES : FAMILIES.filter((family) => family === 4);
    this.families = new Map(families.map((family) => [family, new FamilyTables(familySettings(config, this.options, family))]));
  }

  get mode(): Mode {
    const mode = this.options.mode ?? this.detectedMode;
    if (!mode) throw new Error('iptables backend: init() has not run');
    return mode;
  }

  /** The tables of one family (for tests, `kplane plan` and the bench). */
  tables(family: IPFamily): FamilyTables | undefined {
    return this.families.get(family);
  }

  async init(): Promise<void> {
    if (!this.options.mode) this.detectedMode = await detectMode(this.executor);
    for (const family of this.families.keys()) {
      const query = versionQuery(this.mode, family);
      await this.executor.read(query).catch((error: unknown) => {
        throw new Error(`iptables backend: ${query.tool} is not usable (install iptables 1.8+): ${(error as Error).message}`);
      });
    }
    this.logger.info({ mode: this.mode, detected: !this.options.mode, layout: this.options.layout, leafSize: this.options.leafSize }, 'iptables backend ready');
  }

  async sync({ full, changed, state }: SyncRequest): Promise<void> {
    const rebuild = full || !this.trusted;
    this.trusted = false;
    for (const [family, tables] of this.families) {
      const plan = rebuild
        ? tables.planFull(state, await this.audit(this.mode, family), this.mode === 'nft' ? NFT_RESTORE_LINES : Infinity)
        : tables.planPartial(changed, state);
      for (const transaction of plan.transactions) await this.executor.apply(restoreBatch(this.mode, family, transaction.toString()));
      plan.commit();
    }
    this.trusted = true;
    if (rebuild) await ensureForwardAccept(this.executor);
  }

  activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    return conntrackConnections(this.executor, endpoints);
  }

  /** Removes kplane's hooks and chains from both variants and both families, found by their names (hooks first); nothing else. */
  async cleanup(): Promise<void> {
    for (const mode of MODES) {
      for (const family of FAMILIES) {
        const audit = await this.audit(mode, family).catch(() => null);
        if (!audit) continue;
        const packer = new RestorePacker(mode === 'nft' ? NFT_RESTORE_LINES : Infinity);
        for (const hook of audit.hooks) packer.add(1, (transaction) => transaction.deleteRule(hook.table, hook.chain, hook.rule));
        packer.removeChains(IPTABLES_TABLES.flatMap((table) => [...(audit.chains.get(table) ?? [])].map((chain) => ({ table, chain }))));
        for (const transaction of packer.transactions()) await this.executor.apply(restoreBatch(mode, family, transaction.toString()));
      }
    }
    await removeForwardAccept(this.executor);
    this.trusted = false;
  }

  private async audit(mode: Mode, family: IPFamily): Promise<KernelAudit> {
    return parseSave(await this.executor.read(saveQuery(mode, family)));
  }
}
