import {
  FEATURES, TOKENS, conntrackConnections, ensureForwardAccept, inject, injectable, removeForwardAccept,
  type Batch, type Clock, type DataplaneBackend, type Endpoint, type Executor, type Feature, type Logger, type PacketTrace, type ProxyConfig, type SyncRequest, type TracePacket,
} from '@kplane/core';
import type { NftClient } from './client/client.js';
import { NftTransaction } from './client/transaction.js';
import { defaultParallelTransactions, nftOptions, OPTION_KEYS, type NftOptions } from './options.js';
import { NftAudit } from './planner/audit.js';
import { tableDiff } from './planner/diff.js';
import { FAMILIES, TABLE } from './planner/layout.js';
import type { NftPlan } from './planner/plan.js';
import { planFull, type FullSyncLimits } from './planner/plan-full.js';
import { planPartial } from './planner/plan-partial.js';
import { planReadBack } from './planner/read-back.js';
import { WrittenTable, type WrittenTables } from './planner/written-table.js';
import { traceNft } from './trace/trace.js';

/** The NftClient binding: ExecNftClient by default, a FakeNftClient in tests. */
export const NFT_CLIENT = Symbol.for('kplane.nft.NftClient');

/**
 * The nftables backend: plans against its model of what it wrote (never a listing on the sync
 * path), sends a partial sync as one `nft -f` transaction of changed elements, and a full sync as a
 * new generation built beside the old one and swapped in by the last transaction. The model changes
 * only when the kernel has accepted a whole plan.
 */
@injectable()
export class NftBackend implements DataplaneBackend {
  readonly name = 'nft';
  readonly description = 'nftables verdict maps: O(1) dispatch, one transaction per sync (default)';
  readonly features: ReadonlySet<Feature> = new Set(FEATURES);
  readonly usesConntrack = true;
  readonly optionKeys = [...OPTION_KEYS];
  private readonly tables: WrittenTables = { ip: new WrittenTable('ip'), ip6: new WrittenTable('ip6') };
  private readonly options: NftOptions;
  private limits: FullSyncLimits;
  /** The drift audit, with its monitor: from init() (a backend built for `kplane cleanup` watches nothing). */
  private drift: NftAudit | null = null;
  /** Whether the next full sync is the first since start-up, to be planned against the tables a previous run left. */
  private firstSync = true;

  constructor(
    @inject(NFT_CLIENT) private readonly nft: NftClient,
    @inject(TOKENS.Executor) private readonly executor: Executor,
    @inject(TOKENS.Config) private readonly config: ProxyConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {
    this.options = nftOptions(config);
    this.limits = { transactionElements: this.options.transactionElements, parallelTransactions: this.options.parallelTransactions ?? 1 };
  }

  async init(): Promise<void> {
    await this.executor.read({ tool: 'nft', args: ['--version'] }).catch((error: unknown) => {
      throw new Error(`the nft backend needs the nft tool (Debian: apt install nftables): ${(error as Error).message}`);
    });
    if (this.options.parallelTransactions === undefined) {
      const nproc = await this.executor.read({ tool: 'nproc', args: [] }).catch(() => '');
      this.limits = { ...this.limits, parallelTransactions: defaultParallelTransactions(nproc) };
    }
    await this.readKernel();
    await ensureForwardAccept(this.executor);
    this.drift ??= new NftAudit(this.nft, this.nft.watchChanges(TABLE), this.config, this.clock);
  }

  async sync(request: SyncRequest): Promise<void> {
    // A model learnt from the kernel (start-up, a failed split sync, drift) has names only: a partial sync needs more.
    if (request.full || FAMILIES.some((family) => this.tables[family].generation === 0 || this.tables[family].leftover !== null)) {
      await this.run((await this.readBack(request)) ?? planFull(this.tables, request.state, this.config, this.limits));
      this.logger.debug({ generation: this.tables.ip.generation, services: request.state.size }, 'nft full sync');
    } else {
      await this.run(planPartial(this.tables, request.changed, request.state));
    }
  }

  /** The drift check between syncs (planner/audit.ts: names every period, the monitor's foreign changes, whole tables after a gap). */
  async audit(): Promise<readonly string[]> {
    return this.drift ? this.drift.run(this.tables) : [];
  }

  /** `kplane plan --diff`: both families' tables, listed whole, against the last (dry-run) sync's plan (planner/diff.ts). */
  async diff(): Promise<readonly string[]> {
    const drift: string[] = [];
    for (const family of FAMILIES) drift.push(...tableDiff(family, this.tables[family], await this.nft.listTable(family, TABLE, { terse: false }), this.config));
    return drift;
  }

  /** `kplane trace` (trace/): the tables as listed now, or as the planned batches leave them. */
  trace(packet: TracePacket, planned?: readonly Batch[]): Promise<PacketTrace> {
    return traceNft(this.nft, packet, planned);
  }

  activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    return conntrackConnections(this.executor, endpoints);
  }

  async cleanup(): Promise<void> {
    const tx = new NftTransaction(TABLE);
    for (const family of FAMILIES) if (await this.nft.list(family, TABLE)) tx.delete(family, { kind: 'table' });
    await this.nft.run(tx);
    await removeForwardAccept(this.executor);
    // Nothing of kplane's is left to watch.
    this.drift?.stop();
    this.drift = null;
  }

  /** Runs every stage of a plan in order and commits it once the kernel has accepted them all. */
  private async run(plan: NftPlan): Promise<void> {
    for (const [index, stage] of plan.stages.entries()) {
      try {
        await runAtMost(this.limits.parallelTransactions, stage, (tx) => this.nft.run(tx));
      } catch (error) {
        // Refused after its first stage (a split full sync), the plan is in the kernel in part: what the
        // model says is no longer so. Learn the kernel's names again, so that the next full sync (the
        // engine retries with one) removes what was left. A first stage refused left nothing: the model stands.
        if (index > 0) await this.readKernel().catch(() => {});
        throw error;
      }
    }
    plan.commit();
  }

  /**
   * The first full sync after a restart over tables a previous run left: only what differs from
   * them (planReadBack), or null for the full rewrite. Once: later full syncs repair drift or resync.
   */
  private async readBack(request: SyncRequest): Promise<NftPlan | null> {
    if (!this.firstSync) return null;
    this.firstSync = false;
    if (FAMILIES.every((family) => this.tables[family].generation === 0)) return null;
    const listings = await Promise.all(FAMILIES.map((family) => this.nft.listTable(family, TABLE, { terse: false }))).catch((error: unknown) => {
      this.logger.info({ error: (error as Error).message }, 'nft: the tables found at start-up could not be listed; they are rewritten whole');
      return null;
    });
    if (!listings) return null;
    const readBack = planReadBack(this.tables, { ip: listings[0]!, ip6: listings[1]! }, request.state, this.config, this.limits.transactionElements);
    if ('fallback' in readBack) this.logger.info({ reason: readBack.fallback }, 'nft: the tables found at start-up are rewritten whole');
    else this.logger.info({ transactions: readBack.plan.stages.length }, 'nft: the tables found at start-up are kept; only what differs is written');
    return 'plan' in readBack ? readBack.plan : null;
  }

  /** The start-up audit: names in kplane's tables (no elements), so a full sync knows what to replace. */
  private async readKernel(): Promise<void> {
    const [ip, ip6] = await Promise.all(FAMILIES.map((family) => this.nft.list(family, TABLE)));
    this.tables.ip = WrittenTable.fromKernel('ip', ip ?? null);
    this.tables.ip6 = WrittenTable.fromKernel('ip6', ip6 ?? null);
  }
}

/** Runs every transaction, at most `limit` at a time; waits for all of them before reporting the first failure. */
async function runAtMost(limit: number, transactions: readonly NftTransaction[], run: (tx: NftTransaction) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < transactions.length) await run(transactions[next++]!);
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, transactions.length) }, worker));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}
