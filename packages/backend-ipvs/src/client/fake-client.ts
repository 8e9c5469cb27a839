import { IPTABLES_TABLES, iptablesCommand, ToolError, ToolMissingError, type IPFamily, type IptablesTable, type IptablesTransaction } from '@kplane/core';
import { FakeIptablesTables } from '@kplane/core/testing';
import type { IpvsClient } from './client.js';
import { FakeIpsets } from './fake-ipsets.js';
import { FakeIpvsServices } from './fake-ipvs-services.js';
import { FakeLinks } from './fake-links.js';
import { Refusal } from './fake-refusal.js';
import type { IpsetTransaction, IpTransaction, IpvsadmTransaction } from './transaction.js';

/** The tools a FakeIpvsClient stands in for (`iptables` and `ip6tables` include their `-restore`). */
export type FakeTool = 'ipvsadm' | 'ipset' | 'ip' | 'iptables' | 'ip6tables' | 'sysctl' | 'uname' | 'grep' | 'cat';

export interface FakeIpvsClientOptions {
  /** `uname -r` (Debian 12's kernel by default). */
  readonly kernelRelease?: string;
  /** Whether the kernel's IPVS has its SCTP handler (true by default); null: the kernel shows no handler symbols. */
  readonly sctp?: boolean | null;
  /** The node's own links and their `address/prefix` addresses. */
  readonly interfaces?: Readonly<Record<string, readonly string[]>>;
  /** Tools that are not installed: every call of theirs fails with a ToolMissingError. */
  readonly missing?: readonly FakeTool[];
}

/** One text batch a tool received (applied or refused), for assertions. */
export interface FakeBatch {
  readonly tool: string;
  readonly input: string;
}

/**
 * The ipvs backend's tools in memory, for tests without root (knftables' Fake is the model): it
 * parses exactly the text the real client would send — `ipvsadm -R` lines, `ipset restore` lines,
 * `ip -batch` lines, iptables-restore input (core's FakeIptablesTables, one per family) — keeps
 * kernel-like state with the kernel's refusals, and answers the listings from that state in the
 * tools' own format, so the backend's listing parsers read it. `failNext` makes a tool's next batch
 * fail (fault tests); `dump()` prints the whole state, sorted, to compare two fakes.
 */
export class FakeIpvsClient implements IpvsClient {
  readonly services = new FakeIpvsServices();
  readonly iptables: ReadonlyMap<IPFamily, FakeIptablesTables> = new Map([
    [4, new FakeIptablesTables({ tool: 'iptables' })],
    [6, new FakeIptablesTables({ tool: 'ip6tables' })],
  ]);

  readonly sets = new FakeIpsets((name) => this.setInUse(name));
  readonly links: FakeLinks;
  readonly sysctls = new Map<string, number>();
  /** Tools that are not installed (from the options; a test may uninstall one later). */
  readonly missing: Set<FakeTool>;
  /** Every batch sent, in order. */
  readonly batches: FakeBatch[] = [];
  private readonly faults: { tool: FakeTool; after: number }[] = [];

  constructor(private readonly options: FakeIpvsClientOptions = {}) {
    this.links = new FakeLinks(options.interfaces ?? {});
    this.missing = new Set(options.missing);
  }

  /**
   * The next batch of `tool` fails after its first `after` lines took effect (none by default;
   * iptables-restore input is all or nothing). Calls queue up.
   */
  failNext(tool: FakeTool, after = 0): this {
    this.faults.push({ tool, after });
    return this;
  }

  /**
   * Someone else's command, applied to the state as the tool's command line would (tampering
   * tests): `outside('ipvsadm', '-D -t 10.96.0.10:80')`, `outside('ipset', 'del <set> <entry>')`,
   * `outside('ip', 'address del 10.96.0.10/32 dev kplane-ipvs0')`; iptables through `iptables.get(family).command`.
   * Not recorded as a batch; a refused command throws.
   */
  outside(tool: 'ipvsadm' | 'ipset' | 'ip', command: string): this {
    if (tool === 'ipvsadm') this.services.restore(command);
    else if (tool === 'ipset') this.sets.restore(command, false);
    else this.links.batch(command);
    return this;
  }

  async restoreServices(transaction: IpvsadmTransaction): Promise<void> {
    this.batch('ipvsadm', transaction.toString(), (limit) => this.services.restore(transaction.toString(), limit));
  }

  async restoreSets(transaction: IpsetTransaction): Promise<void> {
    this.batch('ipset', transaction.toString(), (limit) => this.sets.restore(transaction.toString(), transaction.exist, limit));
  }

  async runIp(transaction: IpTransaction): Promise<void> {
    this.batch('ip', transaction.toString(), (limit) => this.links.batch(transaction.toString(), limit));
  }

  async restoreRules(family: IPFamily, transaction: IptablesTransaction): Promise<void> {
    const input = transaction.toString();
    this.batch(iptablesCommand(family), input, (limit) => {
      if (limit !== Infinity) return; // all or nothing: a failed restore changes no table
      const unknown = [...input.matchAll(/--match-set (\S+)/g)].map((match) => match[1]!).find((name) => !this.sets.has(name));
      if (unknown !== undefined) throw new Refusal(`Set ${unknown} doesn't exist.`);
      this.iptables.get(family)!.restore(input, true);
    });
  }

  async writeSysctls(values: ReadonlyMap<string, number>): Promise<void> {
    const input = [...values].map(([key, value]) => `${key} = ${value}\n`).join('');
    this.batch('sysctl', input, (limit) => {
      for (const [key, value] of [...values].slice(0, limit)) this.sysctls.set(key, value);
    });
  }

  async saveServices(): Promise<string> {
    return this.read('ipvsadm', () => this.services.save());
  }

  async listServices(): Promise<string> {
    return this.read('ipvsadm', () => this.services.list());
  }

  async saveSets(name?: string): Promise<string> {
    return this.read('ipset', () => this.sets.save(name));
  }

  async listSetHeaders(): Promise<string> {
    return this.read('ipset', () => this.sets.headers());
  }

  async readIpvsTable(): Promise<string> {
    return this.read('cat', () => this.services.table());
  }

  async listAddresses(device?: string): Promise<string | null> {
    try {
      return this.read('ip', () => this.links.show(device));
    } catch (error) {
      if (device !== undefined && !(error instanceof ToolMissingError)) return null;
      throw error;
    }
  }

  async listRules(family: IPFamily, table: IptablesTable): Promise<string> {
    return this.read(iptablesCommand(family), () => this.iptables.get(family)!.list(table));
  }

  async kernelRelease(): Promise<string> {
    return this.read('uname', () => this.options.kernelRelease ?? '6.1.0-50-amd64');
  }

  async ipvsProtocolSymbols(): Promise<string> {
    const sctp = this.options.sctp ?? true;
    return this.read('grep', () => (sctp === null ? '' : `ip_vs_protocol_tcp\n${sctp ? 'ip_vs_protocol_sctp\n' : ''}`));
  }

  /** The whole state, sorted (connection counters and batch history left out): two fakes that dump alike hold the same kernel. */
  dump(): string {
    const rules = [...this.iptables].flatMap(([family, tables]) => IPTABLES_TABLES.map((table) => `# ${iptablesCommand(family)} -t ${table}\n${tables.list(table)}`));
    const sysctls = [...this.sysctls].sort().map(([key, value]) => `sysctl ${key} = ${value}`);
    return [...this.services.dump(), ...this.sets.dump(), ...this.links.dump(), ...sysctls].map((line) => `${line}\n`).join('') + rules.join('');
  }

  /** Runs one batch (`limit`: the lines an injected fault lets through); a refusal fails it as the tool would. */
  private batch(tool: FakeTool, input: string, apply: (limit: number) => void): void {
    this.checkInstalled(tool);
    if (input === '') return;
    this.batches.push({ tool, input });
    const fault = this.faults.findIndex((candidate) => candidate.tool === tool);
    const limit = fault >= 0 ? this.faults.splice(fault, 1)[0]!.after : Infinity;
    try {
      apply(limit);
      if (fault >= 0) throw new Refusal('injected failure');
    } catch (error) {
      if (error instanceof Refusal) throw new ToolError(tool, 1, error.message);
      throw error;
    }
  }

  private read(tool: FakeTool, answer: () => string): string {
    this.checkInstalled(tool);
    try {
      return answer();
    } catch (error) {
      if (error instanceof Refusal) throw new ToolError(tool, 1, error.message);
      throw error;
    }
  }

  private checkInstalled(tool: FakeTool): void {
    if (this.missing.has(tool)) throw new ToolMissingError(tool);
  }

  /** An iptables rule of either family matches on the set. */
  private setInUse(name: string): boolean {
    return [...this.iptables.values()].some((tables) => IPTABLES_TABLES.some((table) => [...tables.chains(table).values()].some((rules) => rules.some((rule) => rule.includes(`--match-set ${name} `)))));
  }
}
