import {
  FEATURES, IPTABLES_TABLES, TOKENS, conntrackConnections, ensureForwardAccept, inject, injectable, removeForwardAccept,
  type Batch, type Clock, type DataplaneBackend, type Endpoint, type Executor, type Feature, type IPFamily, type Logger, type PacketTrace, type ProxyConfig, type SyncRequest, type TracePacket,
} from '@kplane/core';
import { command, FAMILIES, MODES, type IptablesClient, type Mode } from './client/client.js';
import { parseSave, type KernelAudit } from './client/save-audit.js';
import { DriftAudit } from './planner/audit.js';
import { familyDiff } from './planner/diff.js';
import { detectMode } from './mode.js';
import { traceIptables } from './trace/trace.js';
import { readOptions, type IptablesOptions } from './options.js';
import { FamilyModel } from './planner/family-model.js';
import { planFull } from './planner/plan-full.js';
import { planPartial } from './planner/plan-partial.js';
import type { Plan } from './planner/plan.js';
import { planReadBack } from './planner/read-back.js';
import { RestorePacker } from './planner/restore-packer.js';
import { familySettings } from './planner/settings.js';

/** The IptablesClient binding: ExecIptablesClient by default, a FakeIptablesClient in tests. */
export const IPTABLES_CLIENT = Symbol.for('kplane.iptables.IptablesClient');

/**
 * Lines per restore of a full sync or cleanup in iptables-nft mode. `iptables-nft-restore
 * --noflush` (1.8.9) slows down superlinearly with the size of its input (appends to existing
 * chains: 30 µs a rule at 2,000 rules, 86 µs at 10,000, 290 µs at 20,000) and reads the table's
 * rules once per call (about 0.2 s beside 60,000 chains). Measured at 20,000 services, a restart's
 * full sync took 35 s in restores of 1,000 lines, 30 s of 2,000, 13 s of 5,000, 12 s of 10,000.
 * Legacy mode swaps the whole table per restore: one restore is cheapest there.
 */
const NFT_RESTORE_LINES = 5000;

/**
 * The iptables backend. Service IPs sit in a prefix tree of chains (O(log N) rules per packet, one
 * path rewritten per change), or in kube-proxy's flat layout with `layout=flat`. Each sync sends one
 * `iptables-restore --noflush` per IP family; a partial sync carries only the chains that differ
 * from the model of what was written, and the kernel is listed only before full syncs. A plan is
 * recorded in the model only once the kernel took all its restores.
 */
@injectable()
export class IptablesBackend implements DataplaneBackend {
  readonly name = 'iptables';
  readonly description: string;
  readonly features: ReadonlySet<Feature> = new Set(FEATURES);
  readonly usesConntrack = true;
  readonly optionKeys = ['layout', 'mode', 'leaf-size', 'drop-bit', 'reject-bit'];
  readonly options: IptablesOptions;
  private models: Map<IPFamily, FamilyModel>;
  private detectedMode: Mode | null = null;
  /** The drift audit (with its monitor in iptables-nft mode): from init(), once the mode is known. */
  private drift: DriftAudit | null = null;
  /** Families whose next full sync is planned against the chains in the kernel: the first since start-up (a previous run's), the repair after drift. */
  private readonly firstSync = new Set(FAMILIES);

  constructor(
    @inject(IPTABLES_CLIENT) private readonly client: IptablesClient,
    @inject(TOKENS.Executor) private readonly executor: Executor,
    @inject(TOKENS.Config) config: ProxyConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {
    this.options = readOptions(config);
    this.description = `iptables, ${this.options.layout === 'tree' ? `prefix tree of chains (leaves of ${this.options.leafSize})` : 'flat kube-proxy layout'}`;
    this.models = new Map(FAMILIES.map((family) => [family, new FamilyModel(familySettings(config, this.options, family))]));
  }

  get mode(): Mode {
    const mode = this.options.mode ?? this.detectedMode;
    if (!mode) throw new Error('iptables backend: init() has not run');
    return mode;
  }

  /** The model of one family (for tests, `kplane plan` and the bench); none for IPv6 on a kernel without it. */
  tables(family: IPFamily): FamilyModel | undefined {
    return this.models.get(family);
  }

  async init(): Promise<void> {
    if (!this.options.mode) this.detectedMode = await detectMode(this.client);
    // Without IPv6 in the kernel there is no ip6tables nat table to write.
    if (!(await hasIPv6(this.executor))) this.models.delete(6);
    for (const family of this.models.keys()) {
      await this.client.version(this.mode, family).catch((error: unknown) => {
        throw new Error(`iptables backend: ${command(this.mode, family, 'restore')} is not usable (install iptables 1.8+): ${(error as Error).message}`);
      });
    }
    this.logger.info({ mode: this.mode, detected: !this.options.mode, layout: this.options.layout, leafSize: this.options.leafSize }, 'iptables backend ready');
    this.drift ??= new DriftAudit(this.client, this.mode, this.clock, this.mode === 'nft' ? this.client.watchChanges() : null);
  }

  /** Full when asked, or when a family's model is empty (before the first full sync succeeded, after cleanup). */
  async sync({ full, changed, state }: SyncRequest): Promise<void> {
    let rebuilt = false;
    for (const [family, model] of this.models) {
      const rebuild = full || model.empty;
      const plan = rebuild ? await this.planRebuild(family, model, state) : planPartial(model, changed, state);
      for (const transaction of plan.transactions) await this.client.restore(this.mode, family, transaction);
      plan.commit();
      rebuilt ||= rebuild;
    }
    if (rebuilt) await ensureForwardAccept(this.executor);
  }

  /**
   * Drift check between syncs (core calls it every --audit-period; planner/audit.ts): kplane's
   * hooks and top chains, and in iptables-nft mode what the monitor saw; core runs a full sync on
   * any difference. A family that drifted gets a model learnt anew: its repair is planned against
   * what the kernel holds (planReadBack), so it writes only the chains that differ (a full rewrite
   * takes 7-14 s at 20,000 services in iptables-nft).
   */
  async audit(): Promise<readonly string[]> {
    if (!this.drift) return [];
    const lines: string[] = [];
    for (const [family, drift] of await this.drift.run(this.models)) {
      for (const line of drift) lines.push(`${command(this.mode, family)} ${line}`);
      this.models.set(family, new FamilyModel(this.models.get(family)!.settings));
      this.firstSync.add(family);
    }
    return lines;
  }

  /** `kplane plan --diff`: each family's chains and hooks, from one iptables-save, against the last (dry-run) sync's plan (planner/diff.ts). */
  async diff(): Promise<readonly string[]> {
    const drift: string[] = [];
    for (const [family, model] of this.models) {
      for (const line of familyDiff(model, await this.client.save(this.mode, family))) drift.push(`${command(this.mode, family)} ${line}`);
    }
    return drift;
  }

  activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    return conntrackConnections(this.executor, endpoints);
  }

  /** Removes kplane's hooks and chains from both variants and both families, found by their names (hooks first); nothing else. */
  /** `kplane trace` (trace/): the family's tables as iptables-save shows them now, or as the planned restores leave them. */
  trace(packet: TracePacket, planned?: readonly Batch[]): Promise<PacketTrace> {
    return traceIptables(this.client, this.mode, packet, planned);
  }

  async cleanup(): Promise<void> {
    for (const mode of MODES) {
      for (const family of FAMILIES) {
        const audit = await this.readOwned(mode, family).catch(() => null);
        if (!audit) continue;
        const packer = new RestorePacker(mode === 'nft' ? NFT_RESTORE_LINES : Infinity);
        for (const hook of audit.hooks) packer.add(1, (transaction) => transaction.deleteRule(hook.table, hook.chain, hook.rule));
        packer.removeChains(IPTABLES_TABLES.flatMap((table) => [...(audit.chains.get(table) ?? [])].map((chain) => ({ table, chain }))));
        for (const transaction of packer.transactions()) await this.client.restore(mode, family, transaction);
      }
    }
    // Nothing of kplane's is left to watch.
    this.drift?.stop();
    this.drift = null;
    await removeForwardAccept(this.executor);
    // What was written is gone: the next sync starts from empty models, so it is full.
    this.models = new Map([...this.models].map(([family, model]) => [family, new FamilyModel(model.settings)]));
  }

  /**
   * A full sync of one family: the first since start-up writes only what differs from the chains
   * found (planReadBack) when it can, any other the whole (planFull). One iptables-save serves both.
   */
  private async planRebuild(family: IPFamily, model: FamilyModel, state: SyncRequest['state']): Promise<Plan> {
    const saved = await this.client.save(this.mode, family);
    const lineBudget = this.mode === 'nft' ? NFT_RESTORE_LINES : Infinity;
    if (this.firstSync.delete(family) && model.empty) {
      const readBack = planReadBack(model, state, saved, lineBudget);
      const tool = command(this.mode, family);
      if ('plan' in readBack) {
        this.logger.info({ tool, restores: readBack.plan.transactions.length }, 'iptables: the chains found at start-up are kept; only what differs is written');
        return readBack.plan;
      }
      this.logger.info({ tool, reason: readBack.fallback }, 'iptables: the first full sync since start-up writes every chain');
    }
    return planFull(model, state, parseSave(saved), lineBudget);
  }

  private async readOwned(mode: Mode, family: IPFamily): Promise<KernelAudit> {
    return parseSave(await this.client.save(mode, family));
  }
}

/**
 * Whether the kernel has IPv6, read through the executor: /proc/net/if_inet6 exists exactly then.
 * A dry run answers '' (a readable, empty file), so `kplane plan` shows both families.
 */
async function hasIPv6(executor: Executor): Promise<boolean> {
  return executor.read({ tool: 'cat', args: ['/proc/net/if_inet6'] }).then(() => true, () => false);
}
