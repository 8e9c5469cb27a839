import { hash } from 'node:crypto';
import { CORE_SCHEMA, YAMLException, loadAll } from 'js-yaml';
import { isClusterScoped, type ObjectKind } from './source.js';

/** One object of a manifest file, keyed so that edits can be diffed object by object. */
export interface ManifestObject {
  readonly kind: ObjectKind;
  /** `namespace/name` (`name` for a Node or ServiceCIDR): what a delete event carries. */
  readonly ref: string;
  readonly object: Record<string, unknown>;
  /** A digest of the object's canonical text, to tell a real edit from a rewrite of the same content. */
  readonly fingerprint: string;
}

const PROXY_KINDS: ReadonlySet<string> = new Set<ObjectKind>(['Service', 'EndpointSlice', 'Node', 'ServiceCIDR']);

/**
 * Reads Kubernetes manifests as kubectl prints them: several YAML documents, or a `List` (also
 * `ServiceList` etc.). Objects of other kinds are skipped. Throws on a YAML syntax error, naming
 * its line and column in the whole text.
 *
 * YAML is read by js-yaml with the YAML 1.2 core schema (no timestamps, no merge keys): on 20,000
 * Services with their slices (15 MB) it takes 0.6 s where the `yaml` package took 5.6-7 s
 * (bench/RESULTS.md, "File source"). It remembers the documents of the last read by a digest of
 * their text, so a file re-read after an edit parses only the documents that changed. One `List`
 * document is parsed whole every time.
 */
export class ManifestReader {
  private documents = new Map<string, readonly ManifestObject[]>();

  read(text: string): Map<string, ManifestObject> {
    const documents = new Map<string, readonly ManifestObject[]>();
    const objects = new Map<string, ManifestObject>();
    for (const piece of splitDocuments(text)) {
      const digest = hash('sha1', piece.text);
      const parsed = documents.get(digest) ?? this.documents.get(digest) ?? parsePiece(text, piece);
      documents.set(digest, parsed);
      for (const entry of parsed) objects.set(`${entry.kind}:${entry.ref}`, entry);
    }
    // Only after the whole text parsed: a broken edit leaves the last good documents in place.
    this.documents = documents;
    return objects;
  }
}

/** Every object of a manifest text (a reader used once). */
export function parseManifests(text: string): Map<string, ManifestObject> {
  return new ManifestReader().read(text);
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
  for (const document of documents) collect(document, undefined, objects);
  return [...objects.values()];
}

/** js-yaml's error with its line counted in the whole text (pieces start at a line start), and that line quoted. */
function syntaxError(whole: string, piece: Piece, error: YAMLException): Error {
  const { line, column } = error.mark;
  const source = piece.text.split('\n')[line]?.trimEnd() ?? '';
  const linesBefore = whole.slice(0, piece.offset).split('\n').length - 1;
  return new Error(`${error.reason} at line ${linesBefore + line + 1}, column ${column + 1}${source === '' ? '' : `: ${source}`}`);
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
  if (kind === undefined || !PROXY_KINDS.has(kind)) return;
  const typed = { ...object, kind };
  const metadata = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const name = String(metadata.name ?? '');
  const ref = isClusterScoped(kind as ObjectKind) ? name : `${typeof metadata.namespace === 'string' ? metadata.namespace : 'default'}/${name}`;
  objects.set(`${kind}:${ref}`, { kind: kind as ObjectKind, ref, object: typed, fingerprint: hash('sha1', JSON.stringify(typed)) });
}
