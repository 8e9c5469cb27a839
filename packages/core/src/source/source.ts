/** What every source (Kubernetes informers, a YAML file) delivers: raw objects, validated by the tracker's intake. */

import type { InvalidObjectError } from '../validation/invalid-object-error.js';
import type { ObjectOrigin } from '../validation/validate.js';

export type ObjectKind = 'Service' | 'EndpointSlice' | 'Node' | 'ServiceCIDR';

/** Kinds without a namespace: their refs are just their names. */
export function isClusterScoped(kind: ObjectKind): boolean {
  return kind === 'Node' || kind === 'ServiceCIDR';
}

export type SourceEvent =
  /**
   * `origin`: who has checked the object. What an API server serves passed its validation, so kplane
   * refuses only what it cannot program safely; a manifest file was checked by nobody, so kplane
   * applies the API server's create rules too. Absent means 'api-server'.
   */
  | { readonly action: 'upsert'; readonly kind: ObjectKind; readonly object: unknown; readonly origin?: ObjectOrigin }
  /** `ref` is `namespace/name` (just `name` for cluster-scoped kinds: Node, ServiceCIDR). */
  | { readonly action: 'delete'; readonly kind: ObjectKind; readonly ref: string };

/** An object the intake refused, or a part of one it left out, with the raw object as the source delivered it. */
export interface Rejection {
  readonly error: InvalidObjectError;
  readonly reason: 'invalid' | 'unsupported';
  /** True when only a part (a port, some frontends, an endpoint) was left out and the rest is programmed. */
  readonly partial: boolean;
  readonly object: unknown;
}

export type SourceHandler = (events: readonly SourceEvent[]) => void;

export interface Source {
  /** Starts delivering events; resolves once the initial state has been delivered in full. */
  start(handler: SourceHandler): Promise<void>;
  stop(): Promise<void>;
  /** Tells the objects' owners that one was refused (the kubernetes source creates an Event); optional. */
  reportRejection?(rejection: Rejection): void;
}
