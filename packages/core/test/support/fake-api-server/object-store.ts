import { randomUUID } from 'node:crypto';
import type { Resource } from './resources.js';
import type { ApiObject } from './selectors.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One write, as etcd records it: the object after the write (for a delete, its last state) and before. */
export interface Change {
  readonly type: ChangeType;
  readonly resource: Resource;
  readonly object: ApiObject;
  readonly previous: ApiObject | null;
  readonly revision: number;
}

/**
 * etcd in miniature: one revision counter for every resource (an object's resourceVersion is the
 * revision of its last write), the history of writes since the last compaction, and subscribers
 * that see every write as it happens.
 */
export class ObjectStore {
  private revision = 1000;
  private compactedRevision = 0;
  private readonly objects = new Map<string, Map<string, ApiObject>>();
  private history: Change[] = [];
  private readonly listeners = new Set<(change: Change) => void>();

  get resourceVersion(): number {
    return this.revision;
  }

  /** Writes at or below this revision are forgotten: a watch from before it gets 410 Gone. */
  get compacted(): number {
    return this.compactedRevision;
  }

  /** Creates or replaces an object; returns the stored copy with its new resourceVersion. */
  put(resource: Resource, input: ApiObject): ApiObject {
    const objects = this.of(resource);
    const object = structuredClone(input);
    if (resource.namespaced) object.metadata.namespace ??= 'default';
    else delete object.metadata.namespace;
    const key = objectKey(object);
    const previous = objects.get(key) ?? null;
    object.metadata.uid = previous?.metadata.uid ?? randomUUID();
    object.metadata.creationTimestamp = previous?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    object.metadata.resourceVersion = String(++this.revision);
    objects.set(key, object);
    this.record({ type: previous ? 'MODIFIED' : 'ADDED', resource, object, previous, revision: this.revision });
    return object;
  }

  /** Deletes an object; its last state carries the revision of the delete, as the API server sends it. */
  remove(resource: Resource, key: string): ApiObject | null {
    const objects = this.of(resource);
    const previous = objects.get(key);
    if (!previous) return null;
    objects.delete(key);
    const object = structuredClone(previous);
    object.metadata.resourceVersion = String(++this.revision);
    this.record({ type: 'DELETED', resource, object, previous, revision: this.revision });
    return object;
  }

  get(resource: Resource, key: string): ApiObject | undefined {
    return this.of(resource).get(key);
  }

  /** Every object of a resource in key order, as etcd ranges them. */
  list(resource: Resource): ApiObject[] {
    return [...this.of(resource).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, object]) => object);
  }

  /** The writes after `revision`, or null when they were compacted away. */
  changesSince(revision: number): Change[] | null {
    if (revision < this.compactedRevision) return null;
    return this.history.filter((change) => change.revision > revision);
  }

  compact(): void {
    this.compactedRevision = this.revision;
    this.history = [];
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(change: Change): void {
    this.history.push(change);
    for (const listener of this.listeners) listener(change);
  }

  private of(resource: Resource): Map<string, ApiObject> {
    let objects = this.objects.get(resource.name);
    if (!objects) this.objects.set(resource.name, (objects = new Map()));
    return objects;
  }
}

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(object: ApiObject): string {
  return object.metadata.namespace ? `${object.metadata.namespace}/${object.metadata.name}` : object.metadata.name;
}
