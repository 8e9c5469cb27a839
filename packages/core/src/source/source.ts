/** What every source (Kubernetes informers, a YAML file) delivers: raw objects, validated by the tracker's intake. */

import type { Rejection } from '../tracker/intake.js';

export type ObjectKind = 'Service' | 'EndpointSlice' | 'Node' | 'ServiceCIDR';

/** Kinds without a namespace: their refs are just their names. */
export function isClusterScoped(kind: ObjectKind): boolean {
  return kind === 'Node' || kind === 'ServiceCIDR';
}

export type SourceEvent =
  | { readonly action: 'upsert'; readonly kind: ObjectKind; readonly object: unknown }
  /** `ref` is `namespace/name` (just `name` for cluster-scoped kinds: Node, ServiceCIDR). */
  | { readonly action: 'delete'; readonly kind: ObjectKind; readonly ref: string };

export type SourceHandler = (events: readonly SourceEvent[]) => void;

export interface Source {
  /** Starts delivering events; resolves once the initial state has been delivered in full. */
  start(handler: SourceHandler): Promise<void>;
  stop(): Promise<void>;
  /** Tells the objects' owners that one was refused (the kubernetes source creates an Event); optional. */
  reportRejection?(rejection: Rejection): void;
}
