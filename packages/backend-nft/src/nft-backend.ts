import {
  FEATURES, TOKENS, conntrackConnections, ensureForwardAccept, inject, injectable, removeForwardAccept,
  type DataplaneBackend, type Endpoint, type Executor, type Feature, type Logger, type ProxyConfig, type SyncRequest,
} from '@kplane/core';
import type { NftClient } from './client/client.js';
import { tableContents } from './client/listing.js';
import { NftTransaction, type NftFamily } from './client/transaction.js';
import { defaultParallelTransactions, nftOptions, OPTION_KEYS, type NftOptions } from './options.js';
import { elementDrift, expectedTable, structureDrift } from './planner/audit.js';
import { FAMILIES, TABLE } from './planner/layout.js';
import type { NftPlan } from './planner/plan.js';
import { planFull, type FullSyncLimits } from './planner/plan-full.js';
import { planPartial } from './planner/plan-partial.js';
import { WrittenTable, type WrittenTables } from './planner/written-table.js';

/** Up to this many elements in a family's table, an audit lists the whole table (one `nft list`) and checks every element. */
const WHOLE_TABLE_ELEMENTS = 2000;
/** Bigger, an audit lists its sets and maps in turn: as many as fit in this many elements (at least one), at most MOST_SETS_LISTED. */
const AUDIT_ELEMENTS = 5000;
const MOST_SETS_LISTED = 4;

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
  /** Per family, the set or map the next audit's element check starts at (tables too big to list whole). */
  private readonly auditCursor: Record<NftFamily, number> = { ip: 0, ip6: 0 };

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

  /**
   * The drift check. Per family: a terse listing (`nft -t`: chains, rules, sets, no elements) compared
   * with the model's structure — catches a deleted table, a deleted or flushed chain, a changed rule.
   * Then elements: a small table is listed whole and every element compared; a big one gives one to
   * MOST_SETS_LISTED sets or maps per audit, in turn, within AUDIT_ELEMENTS (at least one whole set),
   * so a deleted element is found within one turn of the rotation.
   * Cost at 20,000 ClusterIP services, one endpoint each (measured in a namespace, see the README):
   * the terse listing plus one 20K-element map per audit; a turn takes as many audits as the table
   * has sets too big to share a listing plus the small ones four at a time.
   */
  async audit(): Promise<readonly string[]> {
    const drift = await Promise.all(FAMILIES.map((family) => this.auditFamily(family)));
    return drift.flat();
  }

  private async auditFamily(family: NftFamily): Promise<string[]> {
    const table = this.tables[family];
    if (table.generation === 0) return [];
    const expected = expectedTable(table, this.config);
    const sets = [...expected.sets].filter(([, set]) => set.elements !== undefined) as [string, { kind: 'set' | 'map'; elements: ReadonlyMap<string, string | undefined> }][];
    const whole = sets.reduce((sum, [, set]) => sum + set.elements.size, 0) <= WHOLE_TABLE_ELEMENTS;
    const listing = await this.nft.listTable(family, TABLE, { terse: !whole });
    const drift = structureDrift(family, expected, listing);
    if (!listing || drift.length > 0) {
      // The full sync that repairs it must replace what is there, not what the model says was
      // (flushing a chain deleted from outside would refuse the whole sync): learn the kernel's names.
      // A broken structure's elements need no check.
      this.tables[family] = WrittenTable.fromKernel(family, listing && tableContents(listing));
      return drift;
    }
    if (whole) return sets.flatMap(([name, set]) => elementDrift(family, name, set.elements, listing.sets.get(name)));
    let taken = 0;
    let elements = 0;
    for (; taken < Math.min(MOST_SETS_LISTED, sets.length); taken++) {
      const [name, set] = sets[(this.auditCursor[family] + taken) % sets.length]!;
      if (taken > 0 && elements + set.elements.size > AUDIT_ELEMENTS) break;
      elements += set.elements.size;
      const listed = await this.nft.listSet(family, TABLE, { kind: set.kind, name });
      drift.push(...elementDrift(family, name, set.elements, listed?.sets.get(name)));
    }
    this.auditCursor[family] = (this.auditCursor[family] + taken) % sets.length;
    return drift;
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
