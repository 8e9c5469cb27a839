import { execa } from 'execa';

/**
 * Everything a dataplane backend could have written into a namespace, in a canonical text form
 * (handles, counters, timers and element order removed), so that two states can be compared:
 * nftables (which includes iptables-nft), iptables-legacy, ipsets, IPVS and network interfaces.
 */
export async function rulesetSnapshot(namespace: string): Promise<string> {
  const run = async (tool: string, args: string[]): Promise<string> => {
    const result = await execa('ip', ['netns', 'exec', namespace, tool, ...args], { reject: false });
    return result.exitCode === 0 ? result.stdout : '';
  };
  const nft = JSON.parse((await run('nft', ['-j', 'list', 'ruleset'])) || '{"nftables":[]}') as { nftables: Record<string, unknown>[] };
  const sections = [
    '## nftables',
    ...nft.nftables.filter((entry) => !('metainfo' in entry)).map((entry) => JSON.stringify(canonical(entry))).sort(),
    '## iptables-legacy',
    ...saveLines(await run('iptables-legacy-save', [])),
    '## ip6tables-legacy',
    ...saveLines(await run('ip6tables-legacy-save', [])),
    '## ipset',
    ...(await run('ipset', ['save'])).split('\n').filter(Boolean).sort(),
    '## ipvs',
    ...(await run('ipvsadm', ['-Sn'])).split('\n').filter(Boolean).sort(),
    '## links',
    ...(await run('ip', ['-o', 'link', 'show'])).split('\n').map((line) => line.split(':')[1]?.trim().split('@')[0] ?? '').filter(Boolean).sort(),
  ];
  return `${sections.join('\n')}\n`;
}

/** Keys that change with time or traffic, not with what a backend wrote (iptables-nft gives every rule a counter). */
const VOLATILE_KEYS = new Set(['handle', 'expires', 'packets', 'bytes']);

/** JSON without handles, element timers and counter values, with set elements in a stable order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).filter(([key]) => !VOLATILE_KEYS.has(key));
  const result: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    result[key] = key === 'elem' && Array.isArray(item) ? item.map(canonical).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) : canonical(item);
  }
  return result;
}

/** iptables-save output as `<table> <line>` lines (the table each line belongs to), sorted. */
function saveLines(text: string): string[] {
  const lines: string[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line && !line.startsWith('#') && line !== 'COMMIT') lines.push(`${table} ${line.replace(/\[\d+:\d+\]/g, '[]')}`);
  }
  return lines.sort();
}

/** The tables iptables-nft makes for the iptables tables of the same name. */
const IPTABLES_TABLES = new Set(['filter', 'nat', 'mangle', 'raw', 'security']);

/**
 * The snapshot without iptables tables that hold nothing: only built-in chains with no rules and an
 * accept policy. iptables creates such a table (`nat`, say) the first time anyone writes a rule
 * into it and leaves it when the rule goes (iptables-legacy cannot even remove it); it changes no
 * packet's fate.
 */
export function withoutEmptyTables(snapshot: string): string {
  return withoutEmptyLegacyTables(withoutEmptyNftTables(snapshot));
}

function withoutEmptyLegacyTables(snapshot: string): string {
  const sections = snapshot.split(/^(?=## )/m);
  return sections.map((section) => {
    if (!/^## ip6?tables-legacy/.test(section)) return section;
    const [title, ...lines] = section.split('\n');
    const busy = new Set(lines.filter((line) => line && !/^\S+ :[A-Z]+ ACCEPT \[\]$/.test(line)).map((line) => line.split(' ')[0]));
    return [title, ...lines.filter((line) => !line || busy.has(line.split(' ')[0]))].join('\n');
  }).join('');
}

function withoutEmptyNftTables(snapshot: string): string {
  const lines = snapshot.split('\n');
  const start = lines.indexOf('## nftables');
  const end = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  const entries = lines.slice(start + 1, end).map((line) => ({ line, entry: JSON.parse(line) as Record<string, { family: string; table?: string; name?: string; policy?: string; type?: string }> }));
  const tableOf = (entry: Record<string, { family: string; table?: string; name?: string }>): string => {
    const [kind, body] = Object.entries(entry)[0]!;
    return `${body.family} ${kind === 'table' ? body.name : body.table}`;
  };
  const busy = new Set(entries.filter(({ entry }) => {
    const [kind, body] = Object.entries(entry)[0]!;
    if (kind === 'table') return !IPTABLES_TABLES.has(body.name ?? '');
    return !(kind === 'chain' && body.type !== undefined && body.policy === 'accept');
  }).map(({ entry }) => tableOf(entry)));
  const kept = entries.filter(({ entry }) => busy.has(tableOf(entry))).map(({ line }) => line);
  return [...lines.slice(0, start + 1), ...kept, ...lines.slice(end)].join('\n');
}
