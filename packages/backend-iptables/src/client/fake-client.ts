import { ToolError, type IPFamily, type IptablesTable, type IptablesTransaction } from '@kplane/core';
import { FakeChangeMonitor, FakeIptablesTables } from '@kplane/core/testing';
import { command, type IptablesClient, type Mode } from './client.js';

/** What one restore carried: its variant, family and exact input. */
export interface Restore {
  readonly mode: Mode;
  readonly family: IPFamily;
  readonly input: string;
}

/** The chains `-S` prints with their policy (`-P`) instead of `-N`. */
const BUILTIN_CHAINS = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

/** nf_tables (and so iptables-nft) refuses a ruleset nesting more than this many chains below a base chain. */
const NFT_MAX_NESTING = 15;

/**
 * An iptables for tests without root (knftables' Fake is the model): each variant and family is a
 * FakeIptablesTables that parses exactly the restore text it is given and keeps the chains of
 * every table, refusing what the kernel refuses (a refused restore changes nothing). The next
 * restores can be told to fail (fault tests); successful restores and every save are recorded.
 */
export class FakeIptablesClient implements IptablesClient {
  /** Every restore that succeeded, in order. */
  readonly restores: Restore[] = [];
  /** Every save, as `<mode>/<family>`. */
  readonly saves: string[] = [];
  /** Every chain listed, as `<mode>/<family> <table> <chain>`. */
  readonly listings: string[] = [];
  /** What the audit's monitor saw: `command()` on kplane's chains in nft mode tells it, as nft monitor would; tests can tell it of a gap. */
  readonly changes = new FakeChangeMonitor();
  private readonly rulesets = new Map<string, FakeIptablesTables>();
  private readonly faults = new Map<number, Error>();
  private attempts = 0;

  /** Makes the restore `later` restores from now (0: the next) fail with `error`, as a busy or broken kernel would. */
  failRestore(later = 0, error: Error = new ToolError('iptables-restore', 4, 'Resource temporarily unavailable')): this {
    this.faults.set(this.attempts + later, error);
    return this;
  }

  async restore(mode: Mode, family: IPFamily, transaction: IptablesTransaction): Promise<void> {
    const fault = this.faults.get(this.attempts++);
    if (fault) throw fault;
    const input = transaction.toString();
    this.ruleset(mode, family).restore(input, true);
    this.restores.push({ mode, family, input });
  }

  async save(mode: Mode, family: IPFamily, table?: string): Promise<string> {
    this.saves.push(`${mode}/${family}`);
    return this.ruleset(mode, family).save(table);
  }

  /** `-S <chain>` as iptables prints it, from the same tables as save(). */
  async listChain(mode: Mode, family: IPFamily, table: IptablesTable, chain: string): Promise<string | null> {
    this.listings.push(`${mode}/${family} ${table} ${chain}`);
    const rules = this.ruleset(mode, family).chains(table).get(chain);
    if (!rules) return null;
    const head = BUILTIN_CHAINS.has(chain) ? `-P ${chain} ACCEPT` : `-N ${chain}`;
    return [head, ...rules.map((rule) => `-A ${chain} ${rule}`), ''].join('\n');
  }

  async version(mode: Mode, family: IPFamily): Promise<string> {
    return `${command(mode, family, 'restore')} v1.8.9 (${mode === 'nft' ? 'nf_tables' : 'legacy'})`;
  }

  /**
   * A plain command in one variant and family: someone else's rules before a test (`['-t', 'nat', '-N', 'OTHER']`),
   * or tampering from outside (`['-t', 'nat', '-F', 'KPLANE-IPS']`, `-D <chain> <rule words>`).
   */
  command(mode: Mode, family: IPFamily, args: readonly string[]): void {
    this.ruleset(mode, family).command(args);
    const table = args.includes('-t') ? args[args.indexOf('-t') + 1] : 'filter';
    if (mode === 'nft' && args.some((arg) => arg.startsWith('KPLANE-'))) {
      this.changes.foreignChange(`"change rule ${family === 4 ? 'ip' : 'ip6'} ${table} ${args.join(' ')}" by process 1 (iptables-nft)`);
    }
  }

  watchChanges(): FakeChangeMonitor {
    return this.changes;
  }

  /** The rules of every chain of one table (a copy). */
  chains(mode: Mode, family: IPFamily, table: string): Map<string, string[]> {
    return this.ruleset(mode, family).chains(table);
  }

  /** One variant's tables in iptables-save format. */
  dump(mode: Mode, family: IPFamily, table?: string): string {
    return this.ruleset(mode, family).save(table);
  }

  private ruleset(mode: Mode, family: IPFamily): FakeIptablesTables {
    const key = `${mode}/${family}`;
    let ruleset = this.rulesets.get(key);
    if (!ruleset) {
      const tool = command(mode, family);
      ruleset = new FakeIptablesTables({ tool, ...(mode === 'nft' && { maxNesting: NFT_MAX_NESTING }) });
      this.rulesets.set(key, ruleset);
    }
    return ruleset;
  }
}
