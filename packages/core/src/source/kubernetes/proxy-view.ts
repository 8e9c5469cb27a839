import type { KubernetesObject } from '@kubernetes/client-node';
import { z } from 'zod';
import {
  endpointSliceSchema, nodeSchema, serviceSchema, SERVICE_NAME_LABEL, TRIGGER_TIME_ANNOTATION, ZONE_LABEL,
} from '../../validation/kubernetes-objects.js';
import { serviceCIDRSchema } from '../../validation/service-cidr.js';
import type { ObjectKind } from '../source.js';

/** kube-proxy's filter: a Service labelled with another proxy's name is that proxy's to program. */
export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
/** Set on the EndpointSlices of headless Services, which a proxy ignores. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';

/** An object as the informers cache it: only what the proxy reads. */
export interface ProxyObject extends KubernetesObject {
  readonly kind: ObjectKind;
  readonly metadata: NonNullable<KubernetesObject['metadata']>;
}

const SCHEMAS: Record<ObjectKind, z.ZodType> = { Service: serviceSchema, EndpointSlice: endpointSliceSchema, Node: nodeSchema, ServiceCIDR: serviceCIDRSchema };
export const API_VERSIONS: Record<ObjectKind, string> = { Service: 'v1', EndpointSlice: 'discovery.k8s.io/v1', Node: 'v1', ServiceCIDR: 'networking.k8s.io/v1' };
const READ_KEYS: ReadonlySet<string> = new Set([SERVICE_NAME_LABEL, ZONE_LABEL, SERVICE_PROXY_NAME_LABEL, TRIGGER_TIME_ANNOTATION]);

/**
 * Reduces an API object to what the proxy reads: the fields its validation schema declares (taken
 * from the schema, so the two cannot drift), the labels and annotations it reads, and the identity
 * the informer and Events need (resourceVersion, uid). managedFields, targetRefs, Node status and
 * last-applied annotations are dropped, so the caches grow with services and endpoints only.
 * Nothing is checked here: the intake validates what is kept.
 */
export function proxyView(kind: ObjectKind, object: KubernetesObject): ProxyObject {
  const view = pick(SCHEMAS[kind], { ...object, kind }) as Record<string, unknown>;
  const metadata = (view.metadata ?? {}) as Record<string, unknown>;
  view.apiVersion = API_VERSIONS[kind];
  view.metadata = {
    ...metadata,
    labels: readEntries(metadata.labels),
    annotations: readEntries(metadata.annotations),
    resourceVersion: object.metadata?.resourceVersion,
    uid: object.metadata?.uid,
  };
  return view as unknown as ProxyObject;
}

/** The parts of `value` that `schema` looks at. Dates (from client-node's typed lists) become API strings. */
function pick(schema: z.ZodType, value: unknown): unknown {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) return pick(schema.unwrap() as z.ZodType, value);
  if (schema instanceof z.ZodPipe) return pick(schema.in as z.ZodType, value);
  if (schema instanceof z.ZodArray && Array.isArray(value)) return value.map((item: unknown) => pick(schema.element as z.ZodType, item));
  if (schema instanceof z.ZodObject && isRecord(value)) {
    const picked: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      if (value[key] !== undefined) picked[key] = pick(field, value[key]);
    }
    return picked;
  }
  return value instanceof Date ? value.toISOString() : value;
}

function readEntries(entries: unknown): Record<string, string> | undefined {
  if (!isRecord(entries)) return undefined;
  const kept = Object.entries(entries).filter(([key]) => READ_KEYS.has(key));
  return kept.length > 0 ? Object.fromEntries(kept) as Record<string, string> : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
}
