import type { IPFamily, IptablesTable, IptablesTransaction } from '@kplane/core';
import type { IpsetTransaction, IpTransaction, IpvsadmTransaction } from './transaction.js';

/**
 * The small interface the ipvs backend needs from its tools: one call per batch, listings as the
 * tools print them (the backend's parsers read them). `ExecIpvsClient` runs the tools through
 * core's executor; `FakeIpvsClient` keeps kernel-like state in memory, for tests without root.
 * A tool that is not installed fails with core's `ToolMissingError`; any other failure is a `ToolError`.
 */
export interface IpvsClient {
  /** `ipvsadm -R` (fails when any line fails: ipvsadm goes on after one). */
  restoreServices(transaction: IpvsadmTransaction): Promise<void>;
  /** `ipset restore [-exist]`. */
  restoreSets(transaction: IpsetTransaction): Promise<void>;
  /** `ip -batch -`. */
  runIp(transaction: IpTransaction): Promise<void>;
  /** `iptables-restore --noflush` (ip6tables-restore for IPv6). */
  restoreRules(family: IPFamily, transaction: IptablesTransaction): Promise<void>;
  /** `sysctl -p -` of `key = value` lines. */
  writeSysctls(values: ReadonlyMap<string, number>): Promise<void>;

  /** `ipvsadm -S -n`: every virtual service and real server as `-A`/`-a` lines. */
  saveServices(): Promise<string>;
  /** `ipvsadm -L -n`: the table with connection counters. */
  listServices(): Promise<string>;
  /** `ipset save`; `ipset save <name>` of one set. */
  saveSets(name?: string): Promise<string>;
  /** `ipset list -t`: every set's header (its number of entries), without members. */
  listSetHeaders(): Promise<string>;
  /** `/proc/net/ip_vs`: the IPVS table in the kernel's own format, read in one go. */
  readIpvsTable(): Promise<string>;
  /** `ip -o address show [dev <device>]`; null when that device does not exist (or a dry run, which plans for a fresh node). */
  listAddresses(device?: string): Promise<string | null>;
  /** `iptables -S` of one table (ip6tables for IPv6). */
  listRules(family: IPFamily, table: IptablesTable): Promise<string>;
  /** The running kernel's release (`uname -r`); '' when unknown (a dry run). */
  kernelRelease(): Promise<string>;
  /** The names of IPVS's TCP and SCTP protocol handlers found in the kernel's symbol table ('' when none is). */
  ipvsProtocolSymbols(): Promise<string>;
}
