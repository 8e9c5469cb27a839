import { hash } from 'node:crypto';
import { CORE_SCHEMA, YAMLException, loadAll } from 'js-yaml';
import { isClusterScoped, type ObjectKind } from './source.js';

/** What the reader keeps of an object between reads: enough to tell whether the next read changed it. */
export interface ManifestEntry {
  /** `kind:ref`, unique in a file (a later document with the same key replaces the earlier one). */
  readonly key: string;
  readonly kind: ObjectKind;
  /** `namespace/name` (`name` for a Node or ServiceCIDR): what a delete event carries. */
  readonly ref: string;
  /** A digest of the object's canonical text, to tell a real edit from a rewrite of the same content. */
  readonly fingerprint: string;
}

/** One object of a manifest file. */
export interface ManifestObject extends ManifestEntry {
  readonly object: Record<string, unknown>;
}

/** What a read changed since the last good one: the objects new or edited, and those gone. */
export interface ManifestChanges {
  readonly upserts: readonly ManifestObject[];
  readonly deletes: readonly ManifestEntry[];
}

const PROXY_KINDS: readonly ObjectKind[] = ['Service', 'EndpointSlice', 'Node', 'ServiceCIDR'];

/**
 * Reads Kubernetes manifests as kubectl prints them: several YAML documents, or a `List` (also
 * `ServiceList` etc.). Objects of other kinds are skipped. Throws on a YAML syntax error, naming
 * its line and column in the whole text.
 *
 * YAML is read by js-yaml with the YAML 1.2 core schema (no timestamps, no merge keys): on 20,000
 * Services with their slices (15 MB) it takes 0.8 s where the `yaml` package took 5 s at best
 * (bench/RESULTS.md, "File source"). Between reads it keeps only the fingerprints of the objects,
 * by document (a digest of its text), not the objects (90 MB at that size): a re-read parses only
 * the documents whose text changed. One `List` document is parsed whole every time.
 */
export class ManifestReader {
  /** The entries of each document piece of the last good read, by a digest of the piece's text. */
  private pieces = new Map<string, readonly ManifestEntry[]>();
  /** The last good state, by `kind:ref`. */
  private entries = new Map<string, ManifestEntry>();

  /** The changes from the last good read (the first time: every object). A broken text throws and changes nothing. */
  update(text: string): ManifestChanges {
    const pieces = new Map<string, readonly ManifestEntry[]>();
    const entries = new Map<string, ManifestEntry>();
    /** The objects parsed now, and for the other keys the (unchanged) piece that defines them last. */
    const parsed = new Map<string, ManifestObject>();
    const definedIn = new Map<string, Piece>();
    for (const piece of splitDocuments(text)) {
      const digest = hash('sha1', piece.text, 'base64');
      let found = pieces.get(digest) ?? this.pieces.get(digest);
      if (found === undefined) {
        const objects = parsePiece(text, piece);
        for (const object of objects) parsed.set(object.key, object);
        found = objects.map(({ key, kind, ref, fingerprint }) => ({ key, kind, ref, fingerprint }));
      } else {
        for (const entry of found) {
          parsed.delete(entry.key);
          definedIn.set(entry.key, piece);
        }
      }
      pieces.set(digest, found);
      for (const entry of found) entries.set(entry.key, entry);
    }
    const upserts: ManifestObject[] = [];
    for (const [key, entry] of entries) {
      if (this.entries.get(key)?.fingerprint === entry.fingerprint) continue;
      // Unchanged text whose object changed all the same: a later duplicate of it was removed.
      upserts.push(parsed.get(key) ?? parsePiece(text, definedIn.get(key)!).find((object) => object.key === key)!);
    }
    const deletes = [...this.entries].filter(([key]) => !entries.has(key)).map(([, entry]) => entry);
    // Only after the whole text parsed: a broken edit leaves the last good state in place.
    this.pieces = pieces;
    this.entries = entries;
    return { upserts, deletes };
  }
}

/** Every object of a manifest text, by `kind:ref` (a reader used once). */
export function parseManifests(text: string): Map<string, ManifestObject> {
  return new Map(new ManifestReader().update(text).upserts.map((object) => [object.key, object]));
}

/** A slice of the manifest text and where it starts in it (for the line numbers of errors). */
interface Piece {
  readonly text: string;
  readonly offset: number;
}

/**
 * The text cut before each `---` line. A document's content cannot start a line with `---` (block
 * content is indented), so each piece holds whole documents; directives (`%YAML`) apply across
 * the marker that follows them, so a text with any is kept in one piece.
 */
function splitDocuments(text: string): Piece[] {
  if (/^%/m.test(text)) return [{ text, offset: 0 }];
  const starts = [...text.matchAll(/^---(?=[ \t\r\n]|$)/gm)].map((match) => match.index);
  const pieces: Piece[] = [];
  let from = 0;
  for (const start of starts) {
    if (start > from) pieces.push({ text: text.slice(from, start), offset: from });
    from = start;
  }
  pieces.push({ text: text.slice(from), offset: from });
  return pieces;
}

/** The objects of one piece. JSON, which kubectl and generators often write, is read as such (JSON is YAML). */
function parsePiece(whole: string, piece: Piece): ManifestObject[] {
  const objects = new Map<string, ManifestObject>();
  const body = piece.text.replace(/^---[ \t]*/, '').trim();
  if (body.startsWith('{')) {
    try {
      collect(JSON.parse(body) as unknown, undefined, objects);
      return [...objects.values()];
    } catch {
      // Flow-style YAML that is not JSON: the YAML parser below reads it.
    }
  }
  let documents: unknown[];
  try {
    documents = loadAll(piece.text, null, { schema: CORE_SCHEMA });
  } catch (error) {
    throw error instanceof YAMLException ? syntaxError(whole, piece, error) : error;
  }
  const limit = EXPANSION_PER_CHARACTER * piece.text.length + 1000;
  if (piece.text.includes('*') && documents.some((document) => expandsPast(document, limit))) {
    throw new Error(`aliases expand the YAML from line ${linesBefore(whole, piece) + 1} past ${limit} values (a "billion laughs"?)`);
  }
  for (const document of documents) collect(document, undefined, objects);
  return [...objects.values()];
}

/** js-yaml's error with its line counted in the whole text (pieces start at a line start), and that line quoted. */
function syntaxError(whole: string, piece: Piece, error: YAMLException): Error {
  const { line, column } = error.mark;
  const source = piece.text.split('\n')[line]?.trimEnd() ?? '';
  return new Error(`${error.reason} at line ${linesBefore(whole, piece) + line + 1}, column ${column + 1}${source === '' ? '' : `: ${source}`}`);
}

function linesBefore(whole: string, piece: Piece): number {
  return whole.slice(0, piece.offset).split('\n').length - 1;
}

/**
 * js-yaml gives every use of an alias the anchor's own object, so nested aliases (a "billion laughs")
 * parse small and blow up whatever walks them (the fingerprint, validation). A document may expand to
 * this many values per character of its text, far above what anchors shared by hand reach.
 */
const EXPANSION_PER_CHARACTER = 10;

/** Whether walking `value` visits more than `limit` values, each alias counted again. */
function expandsPast(value: unknown, limit: number): boolean {
  const pending: unknown[] = [value];
  for (let visited = 0; pending.length > 0; visited++) {
    if (visited > limit) return true;
    const next = pending.pop();
    if (next !== null && typeof next === 'object') pending.push(...Object.values(next));
  }
  return false;
}

function collect(value: unknown, listItemKind: string | undefined, objects: Map<string, ManifestObject>): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  const object = value as Record<string, unknown>;
  const kind = typeof object.kind === 'string' ? object.kind : listItemKind;
  if (kind !== undefined && kind.endsWith('List') && Array.isArray(object.items)) {
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    for (const item of object.items) collect(item, itemKind, objects);
    return;
  }
  // The constant, not the parsed text: V8 slices strings, and a slice keeps its whole document in memory.
  const proxyKind = PROXY_KINDS.find((known) => known === kind);
  if (proxyKind === undefined) return;
  const typed = { ...object, kind: proxyKind };
  const metadata = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const name = String(metadata.name ?? '');
  const ref = detached(isClusterScoped(proxyKind) ? name : `${typeof metadata.namespace === 'string' ? metadata.namespace : 'default'}/${name}`);
  const key = `${proxyKind}:${ref}`;
  objects.set(key, { key, kind: proxyKind, ref, object: typed, fingerprint: hash('sha1', JSON.stringify(typed), 'base64') });
}

/** A copy of `text` that shares no memory with the document it was cut from (the reader keeps it across reads). */
function detached(text: string): string {
  return Buffer.from(text).toString();
}
