import type { ObjectKind, SourceEvent } from '../source/source.js';

/** The source event that adds or replaces `object` (its `kind` field names the kind). */
export function upsert(object: Record<string, unknown>): SourceEvent {
  return { action: 'upsert', kind: object.kind as ObjectKind, object };
}

/** The source event that deletes an object; `ref` is `namespace/name` (`name` for cluster-scoped kinds). */
export function remove(kind: ObjectKind, ref: string): SourceEvent {
  return { action: 'delete', kind, ref };
}
