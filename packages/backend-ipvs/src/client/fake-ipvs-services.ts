import { Refusal, refuse } from './fake-refusal.js';

interface Real {
  weight: number;
  active: number;
  inactive: number;
}

interface Service {
  scheduler: string;
  persistence: number | null;
  readonly reals: Map<string, Real>;
}

/** ipvsadm's protocol flags and the words `ipvsadm -L -n` prints for them. */
const PROTOCOLS: Readonly<Record<string, string>> = { '-t': 'TCP', '-u': 'UDP', '--sctp-service': 'SCTP' };

/**
 * The kernel's IPVS table in memory: applies `ipvsadm -R` lines with the kernel's refusals, and
 * prints `ipvsadm -S -n` and `ipvsadm -L -n` as ipvsadm 1.31 does. Like ipvsadm, a refused line does
 * not stop the others: the batch fails at the end, with every refusal.
 */
export class FakeIpvsServices {
  private readonly services = new Map<string, Service>();

  /** Applies the first `limit` lines (all by default). */
  restore(input: string, limit = Infinity): void {
    const refusals: string[] = [];
    input.split('\n').filter((line) => line.trim() !== '').slice(0, limit).forEach((line, index) => {
      try {
        this.apply(line.trim().split(/\s+/));
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        refusals.push(`line ${index + 1} (${line}): ${error.message}`);
      }
    });
    if (refusals.length > 0) throw new Refusal(refusals.join('\n'));
  }

  /** Sets the connection counters `ipvsadm -L -n` shows for one real server (drain tests). */
  setConnections(key: string, real: string, active: number, inactive: number): void {
    const found = this.services.get(key)?.reals.get(real);
    if (!found) throw new Error(`no real server ${real} in ${key}`);
    Object.assign(found, { active, inactive });
  }

  /** `ipvsadm -S -n`. */
  save(): string {
    const lines: string[] = [];
    for (const [key, service] of this.services) {
      lines.push(`-A ${key} -s ${service.scheduler}${service.persistence === null ? '' : ` -p ${service.persistence}`}`);
      for (const [real, { weight }] of service.reals) lines.push(`-a ${key} -r ${real} -m -w ${weight}`);
    }
    return lines.map((line) => `${line}\n`).join('');
  }

  /** `ipvsadm -L -n`. */
  list(): string {
    return this.render('  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      (flag, address, service) => `${PROTOCOLS[flag]!.padEnd(4)} ${address} ${service.scheduler}${service.persistence === null ? '' : ` persistent ${service.persistence}`}`,
      (real) => real.padEnd(28));
  }

  /**
   * `/proc/net/ip_vs` as kernel 6.1 prints it: addresses and ports in hex (IPv6 addresses in full),
   * the persistence timeout in jiffies (`hz` a second: Debian's CONFIG_HZ by default).
   */
  table(hz = 250): string {
    return this.render('  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
      (flag, address, service) => {
        const persistence = service.persistence === null ? '' : `persistent ${service.persistence * hz} FFFFFFFF`;
        return `${PROTOCOLS[flag]}  ${hexAddress(address)} ${service.scheduler} ${address.startsWith('[') ? '' : ' '}${persistence}`;
      },
      (real) => `${hexAddress(real)}     `);
  }

  /** The two listings share their layout: a header, then each service's line and its real servers' lines. */
  private render(realHeader: string, serviceLine: (flag: string, address: string, service: Service) => string, realAddress: (real: string) => string): string {
    const lines = ['IP Virtual Server version 1.2.1 (size=4096)', 'Prot LocalAddress:Port Scheduler Flags', realHeader];
    for (const [key, service] of this.services) {
      const [flag = '', address = ''] = key.split(' ');
      lines.push(serviceLine(flag, address, service));
      for (const [real, { weight, active, inactive }] of service.reals) {
        lines.push(`  -> ${realAddress(real)} Masq    ${String(weight).padEnd(6)} ${String(active).padEnd(10)} ${String(inactive).padEnd(10)}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  /** Sorted, for comparing two fakes. */
  dump(): string[] {
    return [...this.services].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([key, service]) => [
      `service ${key} ${service.scheduler} persistence ${service.persistence ?? '-'}`,
      ...[...service.reals].sort(([a], [b]) => (a < b ? -1 : 1)).map(([real, { weight }]) => `  real ${real} weight ${weight}`),
    ]);
  }

  private apply(words: readonly string[]): void {
    const [command = '', flag = '', address] = words;
    if (PROTOCOLS[flag] === undefined || address === undefined) throw new Refusal('a service is a protocol flag and an address');
    const key = `${flag} ${address}`;
    const option = (name: string): string | undefined => {
      const index = words.indexOf(name, 3);
      return index < 0 ? undefined : words[index + 1];
    };
    const service = this.services.get(key);
    const existing = (): Service => service ?? refuse('No such service');
    switch (command) {
      case '-A':
      case '-E': {
        if (command === '-A' && service) refuse('Service already exists');
        const persistence = option('-p');
        const next = { scheduler: option('-s') ?? 'wlc', persistence: persistence === undefined ? null : Number(persistence) };
        if (command === '-E') Object.assign(existing(), next);
        else this.services.set(key, { ...next, reals: new Map() });
        return;
      }
      case '-D':
        existing();
        this.services.delete(key);
        return;
      case '-a':
      case '-e':
      case '-d': {
        const real = option('-r') ?? refuse('a real server needs -r');
        const target = service ?? refuse(command === '-a' ? 'Service not defined' : 'No such service');
        const present = target.reals.get(real);
        if (command === '-d') {
          if (!present) refuse('No such destination');
          target.reals.delete(real);
          return;
        }
        if (!words.includes('-m')) refuse('kplane writes only NAT (-m) real servers');
        const weight = Number(option('-w') ?? 1);
        if (!Number.isInteger(weight) || weight < 0) refuse('Illegal weight specified');
        if (command === '-a' && present) refuse('Destination already exists');
        if (command === '-e' && !present) refuse('No such destination');
        target.reals.set(real, { active: 0, inactive: 0, ...present, weight });
        return;
      }
      default:
        refuse(`unknown command ${command}`);
    }
  }
}

/** `10.96.0.10:80` → `0A60000A:0050`, `[fd00::10]:80` → `[fd00:0000:...:0010]:0050`, as the kernel's %08X and %pI6 print them. */
function hexAddress(address: string): string {
  const colon = address.lastIndexOf(':');
  const [ip, port] = [address.slice(0, colon), Number(address.slice(colon + 1))];
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  if (!ip.startsWith('[')) return `${ip.split('.').map((part) => Number(part).toString(16).toUpperCase().padStart(2, '0')).join('')}:${hexPort}`;
  const [head = '', tail = ''] = ip.slice(1, -1).split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const missing = 8 - groups(head).length - groups(tail).length;
  const full = [...groups(head), ...Array<string>(ip.includes('::') ? missing : 0).fill('0'), ...groups(tail)].map((group) => group.padStart(4, '0'));
  return `[${full.join(':')}]:${hexPort}`;
}
