import {
  FEATURES, TOKENS, conntrackConnections, ensureForwardAccept, inject, injectable, removeForwardAccept,
  type Clock, type DataplaneBackend, type Endpoint, type Executor, type Feature, type Logger, type ProxyConfig, type SyncRequest,
} from '@kplane/core';
import type { NftClient } from './client/client.js';
import { tableContents, type TableListing } from './client/listing.js';
import { NftTransaction, type NftFamily } from './client/transaction.js';
import { defaultParallelTransactions, nftOptions, OPTION_KEYS, type NftOptions } from './options.js';
import { elementDrift, expectedElements, expectedTable, structureDrift, type ExpectedTable } from './planner/audit.js';
import { tableDiff } from './planner/diff.js';
import { FAMILIES, TABLE } from './planner/layout.js';
import type { NftPlan } from './planner/plan.js';
import { planFull, type FullSyncLimits } from './planner/plan-full.js';
import { planPartial } from './planner/plan-partial.js';
import { planReadBack } from './planner/read-back.js';
import { WrittenTable, type WrittenTables } from './planner/written-table.js';

/** Up to this many service ports, a deep audit lists a family's table whole (rules and elements) and checks all of it. */
const WHOLE_TABLE_PORTS = 200;
/** Bigger, a deep audit checks the next few of the table's rules and sets in turn, within this many elements (at least one set)... */
const AUDIT_ELEMENTS = 5000;
/** ...and at most this many sets (`nft list set` one at a time: nft 1.0.6 fails on several list commands in one call). */
const MOST_SETS_LISTED = 4;
/** Deep audits take at most this share of the time: after one that took T, the next waits T × (1 / share - 1). */
const DEEP_AUDIT_SHARE = 0.05;

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
  /** Per family, where the next deep audit of a table too big to list whole goes on: its rules, or sets from the `set`-th. */
  private readonly auditCursor: Record<NftFamily, { rulesNext: boolean; set: number }> = { ip: { rulesNext: true, set: 0 }, ip6: { rulesNext: true, set: 0 } };
  /** When (clock time) the next deep audit may run. */
  private deepAuditAt = Number.NEGATIVE_INFINITY;
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

  /**
   * The drift check, in two depths. Every audit: `nft list chains`, `nft -t list sets`, `nft -t list
   * maps` (names and hooks, tens of ms at any size) compared with the model — finds a deleted table,
   * a deleted or foreign chain, set or map. A deep audit also checks rules (flushed or changed chains)
   * and elements: a small table in full from one listing; a big one in turns, its rules (a terse
   * listing) every other deep audit and its sets and maps in between, a few at a time, so a deleted
   * element is found within one turn. Listing rules or elements costs nft 1.0.6 about 1 s at 20,000 services, so
   * deep audits are spaced to take at most DEEP_AUDIT_SHARE of the time. Measured at 20,000
   * ClusterIP services with one endpoint each (test/audit-cost.measure.ts): see the package README.
   */
  async audit(): Promise<readonly string[]> {
    const names = await this.nft.listNames(TABLE);
    const startedAt = this.clock.now();
    const deep = startedAt >= this.deepAuditAt;
    const drift: string[] = [];
    for (const family of FAMILIES) drift.push(...(await this.auditFamily(family, names[family], deep)));
    if (deep) this.deepAuditAt = this.clock.now() + (this.clock.now() - startedAt) * (1 / DEEP_AUDIT_SHARE - 1);
    return drift;
  }

  private async auditFamily(family: NftFamily, names: TableListing | null, deep: boolean): Promise<string[]> {
    const table = this.tables[family];
    if (table.generation === 0) return [];
    const expected = expectedTable(table, this.config);
    let drift = structureDrift(family, expected, names);
    if (drift.length === 0 && deep) drift = await this.deepAudit(family, table, expected);
    // The full sync that repairs it must replace what is there, not what the model says was
    // (flushing a chain deleted from outside would refuse the whole sync): learn the kernel's names.
    if (drift.length > 0) this.tables[family] = WrittenTable.fromKernel(family, names && tableContents(names));
    return drift;
  }

  private async deepAudit(family: NftFamily, table: WrittenTable, expected: ExpectedTable): Promise<string[]> {
    if (table.states.size <= WHOLE_TABLE_PORTS) {
      const listing = await this.nft.listTable(family, TABLE, { terse: false });
      const elements = [...expectedElements(table, expected)];
      return [...structureDrift(family, expected, listing), ...(listing ? elements.flatMap(([name, set]) => elementDrift(family, name, set, listing.sets.get(name))) : [])];
    }
    // Every other deep audit checks the rules: a flushed chain stops every service, a lost element one.
    const cursor = this.auditCursor[family];
    if (cursor.rulesNext) {
      cursor.rulesNext = false;
      return structureDrift(family, expected, await this.nft.listTable(family, TABLE, { terse: true }));
    }
    cursor.rulesNext = true;
    const sets = [...expectedElements(table, expected)];
    const drift: string[] = [];
    let taken = 0;
    let elements = 0;
    for (; taken < Math.min(MOST_SETS_LISTED, sets.length); taken++) {
      const [name, set] = sets[(cursor.set + taken) % sets.length]!;
      if (taken > 0 && elements + set.size > AUDIT_ELEMENTS) break;
      elements += set.size;
      const listed = await this.nft.listSet(family, TABLE, { kind: expected.sets.get(name)!.kind, name });
      drift.push(...elementDrift(family, name, set, listed?.sets.get(name)));
    }
    cursor.set = (cursor.set + taken) % sets.length;
    return drift;
  }

  /** `kplane plan --diff`: both families' tables, listed whole, against the last (dry-run) sync's plan (planner/diff.ts). */
  async diff(): Promise<readonly string[]> {
    const drift: string[] = [];
    for (const family of FAMILIES) drift.push(...tableDiff(family, this.tables[family], await this.nft.listTable(family, TABLE, { terse: false }), this.config));
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
