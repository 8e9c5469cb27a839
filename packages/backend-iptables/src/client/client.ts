import { iptablesCommand, type ChangeMonitor, type IPFamily, type IptablesTable, type IptablesTransaction } from '@kplane/core';

/** The iptables variant: nf_tables through the xtables compatibility layer, or the legacy x_tables. */
export type Mode = 'nft' | 'legacy';

export const MODES: readonly Mode[] = ['nft', 'legacy'];

export const FAMILIES: readonly IPFamily[] = [4, 6];

/** The small interface the backend needs from iptables: one variant and IP family per call. */
export interface IptablesClient {
  /** Applies one transaction as one `iptables-restore --noflush`: all of it, or nothing. */
  restore(mode: Mode, family: IPFamily, transaction: IptablesTransaction): Promise<void>;
  /** iptables-save output of every table, or of one. */
  save(mode: Mode, family: IPFamily, table?: string): Promise<string>;
  /** `iptables -t <table> -S <chain>` output (`-N`/`-P` line, then `-A <chain> …` rules), or null when the chain does not exist. */
  listChain(mode: Mode, family: IPFamily, table: IptablesTable, chain: string): Promise<string | null>;
  /** The restore tool's version line; fails when the tool is not usable. */
  version(mode: Mode, family: IPFamily): Promise<string>;
  /** Starts watching iptables-nft's tables (nf_tables) for changes to kplane's chains by other processes, between audits. */
  watchChanges(): ChangeMonitor;
}

/** The tool of one variant and family: `ip6tables-nft`, `iptables-legacy-restore`. */
export function command(mode: Mode, family: IPFamily, verb?: 'restore' | 'save'): string {
  return `${iptablesCommand(family)}-${mode}${verb ? `-${verb}` : ''}`;
}
