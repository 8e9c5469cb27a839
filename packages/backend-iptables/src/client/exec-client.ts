import type { Batch, Executor, IPFamily, IptablesTransaction } from '@kplane/core';
import type { IptablesClient, Mode } from './client.js';

/** The real client: `ip(6)tables-<mode>-restore` and `-save` through core's executor (so `kplane plan` records the restores). */
export class ExecIptablesClient implements IptablesClient {
  constructor(private readonly executor: Executor) {}

  restore(mode: Mode, family: IPFamily, transaction: IptablesTransaction): Promise<void> {
    return this.executor.apply(restoreBatch(mode, family, transaction.toString()));
  }

  save(mode: Mode, family: IPFamily, table?: string): Promise<string> {
    return this.executor.read({ tool: command(mode, family, 'save'), args: table ? ['-t', table] : [] });
  }

  version(mode: Mode, family: IPFamily): Promise<string> {
    return this.executor.read({ tool: command(mode, family, 'restore'), args: ['--version'] });
  }
}

/** One `iptables-restore --noflush` batch; `-w` waits for the xtables lock instead of failing. */
export function restoreBatch(mode: Mode, family: IPFamily, input: string): Batch {
  return { tool: command(mode, family, 'restore'), args: ['-w', '5', '--noflush'], input };
}

function command(mode: Mode, family: IPFamily, verb: 'restore' | 'save'): string {
  return `${family === 4 ? 'iptables' : 'ip6tables'}-${mode}-${verb}`;
}
