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
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
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
    const persistent = words.indexOf('persistent', 3);
    reals = new Map();
    services.set(`${flag} ${address}`, { scheduler: words[2] ?? '', persistenceJiffies: persistent < 0 ? null : Number(words[persistent + 1]), reals });
  }
  return services;
}

/** `0A60000A:0050` → `10.96.0.10:80`, `[fd00:0010:...]:0050` → `[fd00:10::10]:80`; null when it is neither. */
function hexAddress(text: string): string | null {
  const v4 = /^([0-9A-F]{8}):([0-9A-F]{4})$/i.exec(text);
  if (v4) {
    const value = Number.parseInt(v4[1]!, 16);
    return `${[24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.')}:${Number.parseInt(v4[2]!, 16)}`;
  }
  const v6 = /^\[([0-9a-f:]+)\]:([0-9A-F]{4})$/i.exec(text);
  const ip = v6 ? canonicalIP(v6[1]!) : null;
  return ip === null ? null : `[${ip}]:${Number.parseInt(v6![2]!, 16)}`;
}
