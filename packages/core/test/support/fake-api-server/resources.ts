/** The resources the fake API server serves, with their URL names and types. */
export interface Resource {
  /** The plural in URLs: `services`. */
  readonly name: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const RESOURCES: readonly Resource[] = [
  { name: 'services', group: '', version: 'v1', kind: 'Service', namespaced: true },
  { name: 'endpointslices', group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', namespaced: true },
  { name: 'nodes', group: '', version: 'v1', kind: 'Node', namespaced: false },
  { name: 'servicecidrs', group: 'networking.k8s.io', version: 'v1', kind: 'ServiceCIDR', namespaced: false },
  { name: 'events', group: 'events.k8s.io', version: 'v1', kind: 'Event', namespaced: true },
];

export function apiVersion(resource: Resource): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

export function resourceOfKind(kind: string): Resource {
  const resource = RESOURCES.find((candidate) => candidate.kind === kind);
  if (!resource) throw new Error(`the fake API server does not serve kind ${kind}`);
  return resource;
}
