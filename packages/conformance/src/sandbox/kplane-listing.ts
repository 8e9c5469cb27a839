import { execa } from 'execa';
import { rulesetSnapshot, withoutEmptyTables } from './ruleset-snapshot.js';

/**
 * What a backend wrote into a namespace, comparable with the same manifest run on a fresh node:
 * the ruleset snapshot (nftables, iptables-legacy, ipsets, IPVS; handles, counters and element order
 * removed) without network interfaces, with the names a restart may legitimately change
 * normalised: nft's generation suffixes (`services-g7` → `services-g*`) and iptables' tree chains,
 * numbered from wherever a split full sync started (`KPLANE-IPS-51` → `KPLANE-IPS-1` when 51 is the
 * lowest of its tree). A duplicate, stale or missing chain, set or element stays a difference.
 */
export async function kplaneListing(namespace: string): Promise<string[]> {
  const snapshot = withoutEmptyTables(await rulesetSnapshot(namespace));
  const lines: string[] = [];
  let section = '';
  for (const line of snapshot.split('\n')) {
    if (line.startsWith('## ')) section = line;
    if (section !== '## links' && line) lines.push(line.replace(/-g\d+\b/g, '-g*'));
  }
  return renumberTrees(lines);
}

/** Tree chains renumbered from 1 per tree root and family (a line's family: its section, or nft's `"family"`). */
function renumberTrees(lines: readonly string[]): string[] {
  const tree = /KPLANE-(IPS|NP-[A-Z]+)-(\d+)\b/g;
  const familyOf = (line: string, section: string): string => /"family":"(\w+)"/.exec(line)?.[1] ?? section;
  const lowest = new Map<string, number>();
  let section = '';
  for (const line of lines) {
    if (line.startsWith('## ')) section = line;
    for (const [, root, number] of line.matchAll(tree)) {
      const key = `${familyOf(line, section)} ${root}`;
      lowest.set(key, Math.min(lowest.get(key) ?? Infinity, Number(number)));
    }
  }
  section = '';
  return lines.map((line) => {
    if (line.startsWith('## ')) section = line;
    return line.replace(tree, (_, root: string, number: string) => `KPLANE-${root}-${Number(number) - lowest.get(`${familyOf(line, section)} ${root}`)! + 1}`);
  });
}

/** Lines of `actual` that `expected` lacks (stale or duplicate) and lines `expected` has that `actual` lacks (missing), as multisets. */
export function listingDifference(actual: readonly string[], expected: readonly string[]): { extra: string[]; missing: string[] } {
  const counts = new Map<string, number>();
  for (const line of expected) counts.set(line, (counts.get(line) ?? 0) + 1);
  const extra: string[] = [];
  for (const line of actual) {
    const left = counts.get(line) ?? 0;
    if (left > 0) counts.set(line, left - 1);
    else extra.push(line);
  }
  const missing = [...counts].flatMap(([line, count]) => Array<string>(count).fill(line));
  return { extra, missing };
}

/** Source ports of the UDP conntrack entries in `namespace` addressed to `serviceIp`:`port` (as first sent, before DNAT). */
export async function udpFlowSourcePorts(namespace: string, serviceIp: string, port: number): Promise<number[]> {
  const { stdout } = await execa('ip', ['netns', 'exec', namespace, 'conntrack', '-L', '-p', 'udp', '--orig-dst', serviceIp, '--dport', String(port)], { reject: false });
  return stdout.split('\n').flatMap((line) => {
    const sport = /\bsport=(\d+)/.exec(line);
    return sport ? [Number(sport[1])] : [];
  });
}
