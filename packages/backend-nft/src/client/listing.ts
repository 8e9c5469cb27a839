import type { TableContents } from './client.js';
import type { BaseChainSpec } from './transaction.js';

/** One chain as listed: its hook (base chains) and its rules in nft's own spelling (absent from `nft list chains`). */
export interface ListedChain {
  readonly base?: Pick<BaseChainSpec, 'type' | 'hook'>;
  readonly rules?: readonly string[];
}

/** One set or map as listed; `elements` (key → value, undefined in a set) is absent from a terse listing. */
export interface ListedSet {
  readonly kind: 'set' | 'map';
  readonly elements?: ReadonlyMap<string, string | undefined>;
}

/** What `nft [-t] list table|set|map|chains|sets|maps` shows of one table. */
export interface TableListing {
  readonly chains: ReadonlyMap<string, ListedChain>;
  readonly sets: ReadonlyMap<string, ListedSet>;
}

const TABLE_HEADER = /^table (ip|ip6|inet|arp|bridge|netdev) (\S+) \{$/;
const BLOCK = /^\t(chain|set|map) (\S+) \{$/;
const HOOK = /^\t\ttype (filter|nat) hook (\w+) /;

/**
 * Reads nft's listing of one table (the whole of it, `-t` without elements, or one set): chains with
 * their rules, sets and maps with their elements when `withElements` (not a terse listing). Elements wrap over lines
 * (`elements = { a : b,\n\t\t\t     c : d }`); their keys and values never hold a comma.
 */
export function parseListing(text: string, withElements: boolean): TableListing {
  return parseTable(text.split('\n'), { rules: true, elements: withElements });
}

/**
 * Reads a listing of several tables (`nft list chains`, `nft -t list sets`: every table of every
 * family) into one TableListing per `family table`. `rules`: whether chains' rules are listed.
 */
export function parseTables(text: string, listed: { readonly rules: boolean; readonly elements: boolean }): Map<string, TableListing> {
  const tables = new Map<string, string[]>();
  let lines: string[] = [];
  for (const line of text.split('\n')) {
    const header = TABLE_HEADER.exec(line);
    if (header) tables.set(`${header[1]} ${header[2]}`, (lines = []));
    else lines.push(line);
  }
  return new Map([...tables].map(([id, body]) => [id, parseTable(body, listed)]));
}

function parseTable(lines: readonly string[], listed: { readonly rules: boolean; readonly elements: boolean }): TableListing {
  const withElements = listed.elements;
  const chains = new Map<string, { base?: ListedChain['base']; rules?: string[] }>();
  const sets = new Map<string, { kind: 'set' | 'map'; elements?: Map<string, string | undefined> }>();
  let chain: { base?: ListedChain['base']; rules?: string[] } | null = null;
  let set: { kind: 'set' | 'map'; elements?: Map<string, string | undefined> } | null = null;
  let elements: string | null = null;
  for (const line of lines) {
    const block = BLOCK.exec(line);
    if (block) {
      if (block[1] === 'chain') chains.set(block[2]!, (chain = listed.rules ? { rules: [] } : {}));
      else sets.set(block[2]!, (set = { kind: block[1] as 'set' | 'map' }));
      continue;
    }
    if (line === '\t}') {
      chain = set = null;
      continue;
    }
    if (chain) {
      const hook = HOOK.exec(line);
      if (hook) chain.base = { type: hook[1] as BaseChainSpec['type'], hook: hook[2] as BaseChainSpec['hook'] };
      else if (line.trim() !== '') chain.rules?.push(line.trim());
    } else if (set && (elements !== null || line.startsWith('\t\telements = {'))) {
      elements = `${elements ?? ''} ${line}`;
      if (!line.trimEnd().endsWith('}')) continue;
      set.elements = new Map(elements.slice(elements.indexOf('{') + 1, elements.lastIndexOf('}')).split(',').map(parseElement).filter(([key]) => key !== ''));
      elements = null;
    }
  }
  // Listed with its contents, a set that holds none has no `elements` line.
  if (withElements) for (const listed of sets.values()) listed.elements ??= new Map();
  return { chains, sets };
}

/** The names in a listing. */
export function tableContents(listing: TableListing): TableContents {
  const names = (kind: 'set' | 'map') => new Set([...listing.sets].filter(([, set]) => set.kind === kind).map(([name]) => name));
  return { chains: new Set(listing.chains.keys()), sets: names('set'), maps: names('map') };
}

/** `key : value` (a map's) or `key` (a set's), whitespace normalised. */
export function parseElement(item: string): [string, string | undefined] {
  const text = item.trim().replace(/\s+/g, ' ');
  const colon = text.indexOf(' : ');
  return colon < 0 ? [text, undefined] : [text.slice(0, colon), text.slice(colon + 3)];
}
