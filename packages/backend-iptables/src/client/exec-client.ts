import { NftMonitor, ToolError, type Batch, type ChangeMonitor, type Executor, type IPFamily, type IptablesTable, type IptablesTransaction } from '@kplane/core';
import { command, type IptablesClient, type Mode } from './client.js';

/** The real client: `ip(6)tables-<mode>-restore` and `-save` through core's executor (so `kplane plan` records the restores). */
export class ExecIptablesClient implements IptablesClient {
  constructor(private readonly executor: Executor) {}

  restore(mode: Mode, family: IPFamily, transaction: IptablesTransaction): Promise<void> {
    return this.executor.apply(restoreBatch(mode, family, transaction.toString()));
  }

  save(mode: Mode, family: IPFamily, table?: string): Promise<string> {
    return this.executor.read({ tool: command(mode, family, 'save'), args: table ? ['-t', table] : [] });
  }

  /** A missing chain: exit 1 and iptables' message for it (legacy; nft mode's 1.8 says "incompatible"). */
  async listChain(mode: Mode, family: IPFamily, table: IptablesTable, chain: string): Promise<string | null> {
    return this.executor.read({ tool: command(mode, family), args: ['-w', '5', '-t', table, '-S', chain] }).catch((error: unknown) => {
      if (error instanceof ToolError && error.exitCode === 1 && MISSING_CHAIN.test(error.stderr)) return null;
      throw error;
    });
  }

  version(mode: Mode, family: IPFamily): Promise<string> {
    return this.executor.read({ tool: command(mode, family, 'restore'), args: ['--version'] });
  }

  /** `nft monitor` (core's NftMonitor): iptables-nft's changes show as `delete rule ip nat KPLANE-IPS handle 12`. */
  watchChanges(): ChangeMonitor {
    const monitor = new NftMonitor(this.executor, (line) => OURS.test(line));
    monitor.start();
    return monitor;
  }
}

/** A change nft monitor shows in iptables-nft's nat or filter table that names one of kplane's chains. */
const OURS = /^\S+ \S+ ip6? (?:nat|filter) .*\bKPLANE-/;

/** What `iptables -S <chain>` prints for a chain that does not exist. */
const MISSING_CHAIN = /No chain\/target\/match by that name|chain `[^']*' in table `[^']*' is incompatible/;

/** One `iptables-restore --noflush` batch; `-w` waits for the xtables lock instead of failing. */
export function restoreBatch(mode: Mode, family: IPFamily, input: string): Batch {
  return { tool: command(mode, family, 'restore'), args: ['-w', '5', '--noflush'], input };
}
