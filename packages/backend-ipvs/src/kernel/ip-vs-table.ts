import { canonicalIP } from '@kplane/core';
import { PROTOCOL_FLAGS } from '../planner/virtual-service.js';

/** One virtual service as `/proc/net/ip_vs` shows it. */
export interface TableService {
  readonly scheduler: string;
  /** The persistence timeout in jiffies (seconds × the kernel's HZ), or null when not persistent. */
  readonly persistenceJiffies: number | null;
  /** Real server (`ip:port`, `[ip6]:port`) → weight. */
  readonly reals: ReadonlyMap<string, number>;
}

/**
 * `/proc/net/ip_vs`: the whole IPVS table in one read of the kernel (ipvsadm instead asks for each
 * service's real servers in a netlink request of its own). Addresses and ports are hex:
 * `TCP  0A60000A:0050 rr ` / `TCP  [fd00:0010:...:0010]:0050 rr persistent 150000 FFFFFFFF`, then
 * `  -> 0AF4010B:1F90      Masq    1      0          0` per real server. Keyed like `ipvsadm -S -n`
 * (`-t 10.96.0.10:80`); firewall-mark services (`FWM`) are never kplane's and are left out.
 */
export function parseIpVsTable(text: string): Map<string, TableService> {
  const services = new Map<string, TableService>();
  let reals: Map<string, number> | null = null;
  // Word by word with indexOf: at 20,000 services (60,000 lines) a split and a regular expression a line cost 3× more.
  for (let start = 0; start < text.length;) {
    const end = text.indexOf('\n', start) < 0 ? text.length : text.indexOf('\n', start);
    const words = wordsOf(text.slice(start, end), 5);
    start = end + 1;
    if (words[0] === '->') {
      const real = hexAddress(words[1] ?? '');
      if (reals && real !== null) reals.set(real, Number(words[3]));
      continue;
    }
    const flag = (PROTOCOL_FLAGS as Partial<Record<string, string>>)[words[0] ?? ''];
    const address = flag === undefined ? null : hexAddress(words[1] ?? '');
    if (flag === undefined || address === null) {
      reals = null;
      continue;
    }
    reals = new Map();
    services.set(`${flag} ${address}`, { scheduler: words[2] ?? '', persistenceJiffies: words[3] === 'persistent' ? Number(words[4]) : null, reals });
  }
  return services;
}

/** The first `count` space-separated words of a line. */
function wordsOf(line: string, count: number): string[] {
  const words: string[] = [];
  for (let at = 0; words.length < count;) {
    while (line.charCodeAt(at) === 32) at++;
    if (at >= line.length) break;
    const end = line.indexOf(' ', at) < 0 ? line.length : line.indexOf(' ', at);
    words.push(line.slice(at, end));
    at = end;
  }
  return words;
}

/** `0A60000A:0050` → `10.96.0.10:80`, `[fd00:0010:...]:0050` → `[fd00:10::10]:80`; null when it is neither. */
function hexAddress(text: string): string | null {
  const port = Number.parseInt(text.slice(-4), 16);
  if (text.length === 13 && text[8] === ':') {
    const value = Number.parseInt(text.slice(0, 8), 16);
    return Number.isNaN(value) || Number.isNaN(port) ? null : `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}:${port}`;
  }
  const ip = text.startsWith('[') && text.slice(-6, -4) === ']:' ? canonicalIP(text.slice(1, -6)) : null;
  return ip === null || Number.isNaN(port) ? null : `[${ip}]:${port}`;
}
