import { hash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
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
 * `ServiceList` etc.). Objects of other kinds are skipped. Throws on a YAML syntax error.
 *
 * It remembers the documents of the last read by a digest of their text, so a file re-read after an
 * edit costs a parse of the documents that changed only (measured: 20,000 Services with their
 * slices, 14 MB, take 8.6 s to parse whole). One `List` document is parsed whole every time.
 */
export class ManifestReader {
  private documents = new Map<string, readonly ManifestObject[]>();

  read(text: string): Map<string, ManifestObject> {
    const documents = new Map<string, readonly ManifestObject[]>();
    const objects = new Map<string, ManifestObject>();
    for (const document of splitDocuments(text)) {
      const digest = hash('sha1', document);
      const parsed = documents.get(digest) ?? this.documents.get(digest) ?? parseDocuments(document);
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

/**
 * The text cut before each `---` line. A document's content cannot start a line with `---` (block
 * content is indented), so each piece holds whole documents; directives (`%YAML`) apply across
 * the marker that follows them, so a text with any is kept in one piece.
 */
function splitDocuments(text: string): string[] {
  if (/^%/m.test(text)) return [text];
  const starts = [...text.matchAll(/^---(?=[ \t\r\n]|$)/gm)].map((match) => match.index);
  const pieces: string[] = [];
  let from = 0;
  for (const start of starts) {
    if (start > from) pieces.push(text.slice(from, start));
    from = start;
  }
  pieces.push(text.slice(from));
  return pieces;
}

/** The objects of one piece. JSON, which kubectl and generators often write, is read as such (JSON is YAML). */
function parseDocuments(piece: string): ManifestObject[] {
  const objects = new Map<string, ManifestObject>();
  const body = piece.replace(/^---[ \t]*/, '').trim();
  if (body.startsWith('{')) {
    try {
      collect(JSON.parse(body) as unknown, undefined, objects);
      return [...objects.values()];
    } catch {
      // Flow-style YAML that is not JSON: the YAML parser below reads it.
    }
  }
  for (const document of parseAllDocuments(piece)) {
    if (document.errors.length > 0) throw new Error(document.errors[0]!.message);
    collect(document.toJS() as unknown, undefined, objects);
  }
  return [...objects.values()];
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
