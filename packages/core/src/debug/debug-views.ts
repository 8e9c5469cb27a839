import { inject, injectable } from 'inversify';
import type { ProxyState } from '../backend/contract.js';
import { TOKENS } from '../di/tokens.js';
import type { HealthCheckPorts } from '../engine/health-check-ports.js';
import { healthCheckAnswer } from '../health/service-health-server.js';
import type { HealthState } from '../health/health-state.js';
import { endpointAddress, type Endpoint, type ServiceName, type ServicePort, type ServicePortState } from '../model/service-port.js';
import type { ObjectIntake } from '../tracker/intake.js';
import { SYNCS_KEPT, type SyncRecord, type SyncRecorder } from './sync-recorder.js';

/** One service port as handed to the last sync: its frontends and the endpoints each kind of traffic goes to. */
export interface ServicePortView {
  readonly key: string;
  readonly type: ServicePort['type'];
  readonly frontends: readonly string[];
  readonly endpoints: { readonly internal: readonly string[]; readonly external: readonly string[]; readonly draining: readonly string[] };
}

/** One endpoint of a port with its conditions and where the selection put it. */
export interface EndpointView {
  readonly address: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly node: string | null;
  readonly zone: string | null;
  readonly hints: { readonly zones: readonly string[] | null; readonly nodes: readonly string[] | null };
  /** Takes new connections to cluster IPs / from outside; keeps established ones only. */
  readonly internal: boolean;
  readonly external: boolean;
  readonly draining: boolean;
}

/** A Service as kplane sees it (`kplane explain`, `/debug/services/NAMESPACE/NAME`). */
export interface ServiceExplanation {
  readonly service: ServiceName;
  /** False when its last version was refused whole: then `refused` says why and the last valid version stays programmed. */
  readonly accepted: boolean;
  readonly refused: string | null;
  /** Parts left out (ports skipped, frontends the backend lacks), each with its field and reason. */
  readonly leftOut: readonly string[];
  readonly ports: readonly {
    readonly key: string;
    readonly frontends: readonly string[];
    /** Why each kind of traffic goes to the endpoints it goes to (traffic policy, topology, terminating fallback). */
    readonly selection: { readonly internal: string; readonly external: string };
    readonly endpoints: readonly EndpointView[];
    /** When it last changed in a successful sync (null: not since the agent started). */
    readonly lastChanged: string | null;
  }[];
  readonly lastSync: string | null;
  /** Whether the last sync succeeded (false: the kernel may still hold an older version). */
  readonly lastSyncOk: boolean | null;
  readonly healthCheckNodePort: { readonly port: number; readonly status: number; readonly body: unknown } | null;
}

/** What the debug endpoint and `kplane explain` show, read from core's collaborators (nothing is copied until asked). */
@injectable()
export class DebugViews {
  constructor(
    @inject(TOKENS.DesiredState) private readonly state: ProxyState,
    @inject(TOKENS.Intake) private readonly intake: Pick<ObjectIntake, 'refusal' | 'leftOutOf'>,
    @inject(TOKENS.SyncRecorder) private readonly recorder: SyncRecorder,
    @inject(TOKENS.HealthCheckPorts) private readonly healthChecks: Pick<HealthCheckPorts, 'byPort'>,
    @inject(TOKENS.HealthState) private readonly health: Pick<HealthState, 'livez'>,
  ) {}

  /** `/debug/sync`: the last syncs, newest first. */
  syncs(): { readonly kept: number; readonly syncs: readonly SyncRecord[] } {
    return { kept: SYNCS_KEPT, syncs: this.recorder.recent() };
  }

  /** `/debug/services`: every service port as handed to the last sync. */
  services(): { readonly lastSync: string | null; readonly lastSyncOk: boolean | null; readonly ports: readonly ServicePortView[] } {
    const ports = [...this.state.values()].map((state): ServicePortView => ({
      key: state.servicePort.key,
      type: state.servicePort.type,
      frontends: frontends(state.servicePort),
      endpoints: { internal: state.internalEndpoints.map(endpointAddress), external: state.externalEndpoints.map(endpointAddress), draining: state.draining.map(endpointAddress) },
    }));
    return { lastSync: this.recorder.lastSync, lastSyncOk: this.lastSyncOk(), ports };
  }

  /** One Service, or null when kplane knows nothing of it. */
  explain(name: ServiceName): ServiceExplanation | null {
    const refused = this.intake.refusal('Service', name);
    const leftOut = this.intake.leftOutOf('Service', name);
    const states = [...this.state.values()].filter((state) => state.servicePort.service === name);
    if (!refused && leftOut.length === 0 && states.length === 0) return null;
    const checkPort = [...this.healthChecks.byPort].find(([, entry]) => entry.service === name);
    const answer = checkPort && healthCheckAnswer(checkPort[1], this.health.livez().healthy);
    return {
      service: name,
      accepted: refused === null,
      refused: refused?.message ?? null,
      leftOut,
      ports: states.map((state) => ({
        key: state.servicePort.key,
        frontends: frontends(state.servicePort),
        selection: { internal: selectionReason(state, 'internal'), external: selectionReason(state, 'external') },
        endpoints: endpointViews(state),
        lastChanged: this.recorder.lastChanged(state.servicePort.key),
      })),
      lastSync: this.recorder.lastSync,
      lastSyncOk: this.lastSyncOk(),
      healthCheckNodePort: checkPort && answer ? { port: checkPort[0], status: answer.status, body: answer.body } : null,
    };
  }

  private lastSyncOk(): boolean | null {
    return this.recorder.recent().find((sync) => sync.ok !== null)?.ok ?? null;
  }
}

/** A port's frontends as `kind address:port/PROTOCOL`. */
export function frontends(port: ServicePort): string[] {
  const at = (ip: string): string => `${ip.includes(':') ? `[${ip}]` : ip}:${port.port}/${port.protocol}`;
  return [
    ...port.clusterIPs.map((ip) => `cluster ${at(ip)}`),
    ...(port.nodePort === null ? [] : [`node-port ${port.nodePort}/${port.protocol}`]),
    ...port.externalIPs.map((ip) => `external ${at(ip)}`),
    ...port.loadBalancerIPs.map((ip) => `load-balancer ${at(ip)}${port.loadBalancerSourceRanges.length > 0 ? ` from ${port.loadBalancerSourceRanges.join(',')}` : ''}`),
  ];
}

function endpointViews(state: ServicePortState): EndpointView[] {
  const internal = new Set(state.internalEndpoints.map(endpointAddress));
  const external = new Set(state.externalEndpoints.map(endpointAddress));
  const draining = new Set(state.draining.map(endpointAddress));
  const all = [...state.endpoints, ...state.draining.filter((endpoint) => !state.endpoints.some((other) => endpointAddress(other) === endpointAddress(endpoint)))];
  return all.map((endpoint) => {
    const address = endpointAddress(endpoint);
    return {
      address, ready: endpoint.ready, serving: endpoint.serving, terminating: endpoint.terminating, node: endpoint.nodeName, zone: endpoint.zone,
      hints: { zones: endpoint.hintZones, nodes: endpoint.hintNodes },
      internal: internal.has(address), external: external.has(address), draining: draining.has(address),
    };
  });
}

/** Why one kind of traffic goes to the endpoints the selection chose (tracker/endpoint-selection.ts's rules, in words). */
export function selectionReason(state: ServicePortState, kind: 'internal' | 'external'): string {
  const port = state.servicePort;
  if (kind === 'external' && port.type === 'ClusterIP' && port.externalIPs.length === 0) return 'no external frontend';
  const chosen: readonly Endpoint[] = kind === 'internal' ? state.internalEndpoints : state.externalEndpoints;
  const local = kind === 'internal' ? port.internalTrafficLocal : port.externalTrafficLocal;
  const ready = state.endpoints.filter((endpoint) => endpoint.ready);
  const policy = local ? `${kind}TrafficPolicy Local: this node's endpoints` : `${kind}TrafficPolicy Cluster`;
  if (chosen.length === 0) return `${policy}; none usable: new connections are ${local ? 'dropped' : 'rejected'}`;
  if (chosen.every((endpoint) => !endpoint.ready)) return `${policy}; no endpoint ready: the serving, terminating ones`;
  if (!local && chosen.length < ready.length) return `${policy}; topology: ${chosen.length} of ${ready.length} ready endpoints (hints for this node or zone)`;
  return `${policy}; ${chosen.length} ready endpoint${chosen.length === 1 ? '' : 's'}`;
}
