import { iptablesCommand, type Executor, type IPFamily, type IptablesTable, type IptablesTransaction, type Query } from '@kplane/core';
import type { IpvsClient } from './client.js';
import { whenToolFails } from './tool-failure.js';
import type { IpsetTransaction, IpTransaction, IpvsadmTransaction } from './transaction.js';

/**
 * IPVS's tools, each batch one process through core's executor (so `kplane plan` records them).
 * Empty transactions are not sent.
 */
export class ExecIpvsClient implements IpvsClient {
  constructor(private readonly executor: Executor) {}

  async restoreServices(transaction: IpvsadmTransaction): Promise<void> {
    // ipvsadm -R goes on after a failed line and exits with the last line's status: any stderr output fails the batch.
    if (!transaction.empty) await this.executor.apply({ tool: 'ipvsadm', args: ['-R'], input: transaction.toString(), failOnStderr: true });
  }

  async restoreSets(transaction: IpsetTransaction): Promise<void> {
    if (!transaction.empty) await this.executor.apply({ tool: 'ipset', args: transaction.exist ? ['restore', '-exist'] : ['restore'], input: transaction.toString() });
  }

  async runIp(transaction: IpTransaction): Promise<void> {
    if (!transaction.empty) await this.executor.apply({ tool: 'ip', args: ['-batch', '-'], input: transaction.toString() });
  }

  async restoreRules(family: IPFamily, transaction: IptablesTransaction): Promise<void> {
    if (!transaction.empty) await this.executor.apply({ tool: `${iptablesCommand(family)}-restore`, args: ['--noflush', '-w', '5'], input: transaction.toString() });
  }

  async writeSysctls(values: ReadonlyMap<string, number>): Promise<void> {
    const input = [...values].map(([key, value]) => `${key} = ${value}\n`).join('');
    if (input) await this.executor.apply({ tool: 'sysctl', args: ['-p', '-'], input });
  }

  saveServices(): Promise<string> {
    return this.executor.read({ tool: 'ipvsadm', args: ['-S', '-n'] });
  }

  listServices(): Promise<string> {
    return this.executor.read({ tool: 'ipvsadm', args: ['-L', '-n'] });
  }

  saveSets(name?: string): Promise<string> {
    return this.executor.read({ tool: 'ipset', args: name === undefined ? ['save'] : ['save', name] });
  }

  listSetHeaders(): Promise<string> {
    return this.executor.read({ tool: 'ipset', args: ['list', '-t'] });
  }

  readIpvsTable(): Promise<string> {
    return this.executor.read({ tool: 'cat', args: ['/proc/net/ip_vs'] });
  }

  async listAddresses(device?: string): Promise<string | null> {
    if (device === undefined) return this.executor.read({ tool: 'ip', args: ['-o', 'address', 'show'] });
    if (!this.executor.live) return null;
    // `Device "kplane-ipvs0" does not exist.` (exit 1).
    return this.executor.read({ tool: 'ip', args: ['-o', 'address', 'show', 'dev', device] }).catch(whenToolFails(null));
  }

  listRules(family: IPFamily, table: IptablesTable): Promise<string> {
    return this.executor.read({ tool: iptablesCommand(family), args: ['-w', '5', '-t', table, '-S'] });
  }

  async kernelRelease(): Promise<string> {
    return (await this.executor.read({ tool: 'uname', args: ['-r'] })).trim();
  }

  ipvsProtocolSymbols(): Promise<string> {
    // grep exits 1 when it finds neither name.
    return this.executor.read(IPVS_PROTOCOLS_QUERY).catch(whenToolFails(''));
  }
}

/**
 * IPVS accepts an SCTP virtual service even when it was built without SCTP and then never balances
 * it: the handler's symbol is the only sign. TCP's is the control (ip_vs is loaded by then, and a
 * kernel that hides data symbols shows neither).
 */
const IPVS_PROTOCOLS_QUERY: Query = { tool: 'grep', args: ['-o', '-w', '-E', 'ip_vs_protocol_(tcp|sctp)', '/proc/kallsyms'] };

