import { Refusal, refuse } from './fake-refusal.js';

interface Link {
  readonly index: number;
  up: boolean;
  /** `address/prefix` → scope. */
  readonly addresses: Map<string, string>;
  readonly nodad: Set<string>;
}

/** The link-local address the kernel gives a link when it comes up (IPv6 on). */
const LINK_LOCAL = 'fe80::88cb:3cff:fe5a:63eb/64';

/**
 * The node's links and addresses in memory: applies `ip -batch` lines with the kernel's refusals
 * and prints `ip -o address show` as iproute2 6.1 does. Like `ip -batch` without `-force`, the
 * batch stops at the first refused line; the lines before it stay applied.
 */
export class FakeLinks {
  private readonly links = new Map<string, Link>();
  private nextIndex = 2;

  /** `interfaces`: the node's own links (up), with their `address/prefix` addresses, scope global. */
  constructor(interfaces: Readonly<Record<string, readonly string[]>>) {
    for (const [device, addresses] of Object.entries(interfaces)) {
      const link = this.add(device);
      link.up = true;
      for (const address of addresses) link.addresses.set(address, 'global');
    }
  }

  /** Applies the first `limit` lines (all by default). */
  batch(input: string, limit = Infinity): void {
    input.split('\n').filter((line) => line.trim() !== '').slice(0, limit).forEach((line, index) => {
      try {
        this.apply(line.trim().split(/\s+/));
      } catch (error) {
        if (error instanceof Refusal) throw new Refusal(`${error.message}\nCommand failed -:${index + 1}`);
        throw error;
      }
    });
  }

  /** `ip -o address show [dev <device>]`. */
  show(device?: string): string {
    if (device !== undefined && !this.links.has(device)) refuse(`Device "${device}" does not exist.`);
    const lines: string[] = [];
    for (const [name, link] of this.links) {
      if (device !== undefined && name !== device) continue;
      for (const [address, scope] of link.addresses) {
        const v6 = address.includes(':');
        const flags = link.nodad.has(address) ? ' nodad' : '';
        const label = v6 ? ' ' : ` ${name}`;
        lines.push(`${link.index}: ${name}    inet${v6 ? '6' : ''} ${address} scope ${scope}${flags}${label}\\       valid_lft forever preferred_lft forever`);
      }
    }
    return lines.map((line) => `${line}\n`).join('');
  }

  /** Sorted, for comparing two fakes. */
  dump(): string[] {
    return [...this.links].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([name, link]) => [
      `link ${name} ${link.up ? 'up' : 'down'}`,
      ...[...link.addresses.keys()].sort().map((address) => `  address ${address}`),
    ]);
  }

  private add(device: string): Link {
    const link = { index: this.nextIndex++, up: false, addresses: new Map<string, string>(), nodad: new Set<string>() };
    this.links.set(device, link);
    return link;
  }

  private apply(words: readonly string[]): void {
    const [object, command, ...rest] = words;
    const device = (name: string | undefined): Link => this.links.get(name ?? '') ?? refuse(`Cannot find device "${name}"`);
    if (object === 'link' && command === 'add') {
      if (rest[1] !== 'type' || rest[2] !== 'dummy') refuse('kplane adds only dummy links');
      if (this.links.has(rest[0] ?? '')) refuse('RTNETLINK answers: File exists');
      this.add(rest[0]!);
    } else if (object === 'link' && command === 'set' && rest[1] === 'up') {
      const link = device(rest[0]);
      if (!link.up) link.addresses.set(LINK_LOCAL, 'link');
      link.up = true;
    } else if (object === 'link' && command === 'del') {
      device(rest[0]);
      this.links.delete(rest[0]!);
    } else if (object === 'address' && (command === 'add' || command === 'del') && rest[1] === 'dev') {
      const [address = '', , name] = rest;
      if (!/^[0-9a-f.:]+\/\d+$/.test(address)) refuse(`Error: any valid prefix is expected rather than "${address}".`);
      const link = device(name);
      if (command === 'add') {
        if (link.addresses.has(address)) refuse('RTNETLINK answers: File exists');
        link.addresses.set(address, 'global');
        if (rest.includes('nodad')) link.nodad.add(address);
      } else {
        if (!link.addresses.delete(address)) refuse('RTNETLINK answers: Cannot assign requested address');
        link.nodad.delete(address);
      }
    } else {
      refuse(`Object "${object}" / command "${command}" is not one kplane writes`);
    }
  }
}
