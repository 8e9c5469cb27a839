import { parseAllDocuments } from 'yaml';
import type { ObjectKind } from './source.js';

/** One object of a manifest file, keyed so that edits can be diffed object by object. */
export interface ManifestObject {
  readonly kind: ObjectKind;
  /** `namespace/name` (`name` for a Node): what a delete event carries. */
  readonly ref: string;
  readonly object: Record<string, unknown>;
  /** Canonical text of the object, to tell a real edit from a rewrite of the same content. */
  readonly fingerprint: string;
}

const PROXY_KINDS: ReadonlySet<string> = new Set<ObjectKind>(['Service', 'EndpointSlice', 'Node']);

/**
 * Parses Kubernetes manifests as kubectl prints them: several YAML documents, or a `List` (also
 * `ServiceList` etc.). Objects of other kinds are skipped. Throws on a YAML syntax error.
 */
export function parseManifests(text: string): Map<string, ManifestObject> {
  const objects = new Map<string, ManifestObject>();
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(document.errors[0]!.message);
    collect(document.toJS() as unknown, undefined, objects);
  }
  return objects;
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
  const ref = kind === 'Node' ? name : `${typeof metadata.namespace === 'string' ? metadata.namespace : 'default'}/${name}`;
  objects.set(`${kind}:${ref}`, { kind: kind as ObjectKind, ref, object: typed, fingerprint: JSON.stringify(typed) });
}
