import {
  FEATURES, TOKENS, conntrackConnections, ensureForwardAccept, inject, injectable, removeForwardAccept,
  type DataplaneBackend, type Endpoint, type Executor, type Feature, type Logger, type ProxyConfig, type SyncRequest,
} from '@kplane/core';
import type { NftClient } from './client/client.js';
import { NftTransaction } from './client/transaction.js';
import { defaultParallelTransactions, nftOptions, OPTION_KEYS, type NftOptions } from './options.js';
import { FAMILIES, TABLE } from './planner/layout.js';
import type { NftPlan } from './planner/plan.js';
import { planFull, type FullSyncLimits } from './planner/plan-full.js';
import { planPartial } from './planner/plan-partial.js';
import { WrittenTable, type WrittenTables } from './planner/written-table.js';

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

  constructor(
    @inject(NFT_CLIENT) private readonly nft: NftClient,
    @inject(TOKENS.Executor) private readonly executor: Executor,
    @inject(TOKENS.Config) private readonly config: ProxyConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
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
  }

  async sync(request: SyncRequest): Promise<void> {
    if (request.full || FAMILIES.some((family) => this.tables[family].generation === 0)) {
      await this.run(planFull(this.tables, request.state, this.config, this.limits));
      this.logger.debug({ generation: this.tables.ip.generation, services: request.state.size }, 'nft full sync');
    } else {
      await this.run(planPartial(this.tables, request.changed, request.state));
    }
  }

  activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    return conntrackConnections(this.executor, endpoints);
  }

  async cleanup(): Promise<void> {
    const tx = new NftTransaction(TABLE);
    for (const family of FAMILIES) if (await this.nft.list(family, TABLE)) tx.delete(family, { kind: 'table' });
    await this.nft.run(tx);
    await removeForwardAccept(this.executor);
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
