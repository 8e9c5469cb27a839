import { PROTOCOL_FLAGS } from '../planner/virtual-service.js';

/**
 * Connections (active plus inactive) per draining real server (`ip:port`, `[ip6]:port`) from one
 * `ipvsadm -L -n` listing. Only weight-0 entries count, and only in the virtual services `owned`
 * accepts: the same endpoint still serving another Service does not hold this drain open.
 */
export function connectionCounts(listing: string, owned: (serviceKey: string) => boolean): Map<string, number> {
  const counts = new Map<string, number>();
  let counting = false;
  for (const line of listing.split('\n')) {
    const words = line.trim().split(/\s+/);
    // `ipvsadm -L -n` prints the protocol in words where `-S` prints a flag.
    const flag = (PROTOCOL_FLAGS as Partial<Record<string, string>>)[words[0] ?? ''];
    if (flag !== undefined) {
      counting = owned(`${flag} ${words[1]}`);
    } else if (counting && words[0] === '->' && words[3] === '0') {
      const connections = Number(words[4]) + Number(words[5]);
      if (Number.isInteger(connections)) counts.set(words[1]!, (counts.get(words[1]!) ?? 0) + connections);
    }
  }
  return counts;
}
