import { endpointAddress, ipFamily, kernelId, type Endpoint, type ServicePortState } from '@kplane/core';
import type { NftFamily } from '../client/transaction.js';
import { CHAIN, SET, endpointMap, generationName, pickChainBase, type PickKind, type TransportProtocol } from './layout.js';

/** One element kplane wants in one of its sets or maps (logical set name; the generation is added when written). */
export interface Element {
  readonly set: string;
  readonly key: string;
  readonly value?: string;
  /**
   * The elements that stand or fall together, and are claimed together: a frontend's (its key,
   * `10.96.0.1 . tcp . 80` or `tcp . 30080`: one port's alone), or an element shared between ports
   * (its own key: a cluster IP, a hairpin pair). Key formats never collide across these kinds.
   */
  readonly group: string;
}

export interface NamedChain {
  readonly name: string;
  readonly rules: readonly string[];
}

export interface NamedSet {
  readonly name: string;
  readonly spec: string;
}

/** The per-service objects of a ClientIP-affinity selection (stable names: they outlive generations). */
export interface AffinityObjects {
  readonly sets: readonly NamedSet[];
  readonly chains: readonly NamedChain[];
}

/** Everything one service port puts into one family's table. */
export interface Contribution {
  /** The elements of one group are contiguous. */
  readonly elements: readonly Element[];
  /** Pick chains its verdicts jump to, as `kind:protocol:count`. */
  readonly picks: readonly string[];
  readonly affinity: AffinityObjects;
}

const NO_AFFINITY: AffinityObjects = { sets: [], chains: [] };
/** What a port without a cluster IP of the family contributes (the same object every time). */
export const NOTHING: Contribution = { elements: [], picks: [], affinity: NO_AFFINITY };

/** The verdict that sends a packet on to one of a generation's shared chains. */
function sharedVerdict(chain: string, generation: number): string {
  return `goto ${generationName(chain, generation)}`;
}

/** The sets and chains of one kind of external frontend. */
interface ExternalFrontend {
  readonly noEndpoints: string;
  readonly dispatch: string;
  readonly policy: string;
  readonly localPolicy: string;
  readonly pick: PickKind;
  readonly endpoints: string;
  readonly pickCluster: PickKind;
  readonly clusterEndpoints: string;
}

const EXTERNAL_IP: ExternalFrontend = {
  noEndpoints: SET.noEndpointServices, dispatch: SET.serviceIPs, policy: CHAIN.external, localPolicy: CHAIN.externalLocal,
  pick: SET.pick, endpoints: SET.endpoints, pickCluster: SET.pickCluster, clusterEndpoints: SET.clusterEndpoints,
};

const NODE_PORT: ExternalFrontend = {
  noEndpoints: SET.noEndpointNodePorts, dispatch: SET.serviceNodePorts, policy: CHAIN.nodePort, localPolicy: CHAIN.nodePortLocal,
  pick: SET.nodePortPick, endpoints: SET.nodePortEndpoints, pickCluster: SET.nodePortPickCluster, clusterEndpoints: SET.nodePortClusterEndpoints,
};

/**
 * Turns a service port's desired state into map elements of one family's table: its frontends
 * (cluster IPs, external IPs, load-balancer IPs, node port) dispatch to a policy chain and a pick
 * chain, its selected endpoints fill the endpoint map slots 0..n-1, and a frontend without usable
 * endpoints gets a reject (nothing anywhere) or drop (only elsewhere: Local policies) verdict.
 */
export function contribute(state: ServicePortState, family: NftFamily, generation: number): Contribution {
  const port = state.servicePort;
  const version = family === 'ip' ? 4 : 6;
  const clusterIPs = port.clusterIPs.filter((ip) => ipFamily(ip) === version);
  if (clusterIPs.length === 0) return NOTHING;
  const protocol = port.protocol.toLowerCase() as TransportProtocol;
  const internal = state.internalEndpoints.filter((endpoint) => endpoint.family === version);
  const external = state.externalEndpoints.filter((endpoint) => endpoint.family === version);
  const anyEndpoint = state.endpoints.some((endpoint) => endpoint.family === version && endpoint.serving);
  const unusable = anyEndpoint ? 'drop' : sharedVerdict(CHAIN.reject, generation);

  const elements: Element[] = [];
  const picks = new Set<string>();
  const affinity = new Map<string, { sets: NamedSet[]; chains: NamedChain[] }>();

  /** The verdict that picks one of `endpoints`, and their slots in `endpointSet` under `key`. */
  const pickFrom = (kind: PickKind, endpointSet: string, key: string, endpoints: readonly Endpoint[], tag: 'i' | 'x'): string => {
    const map = endpointMap(endpointSet, protocol);
    endpoints.forEach((endpoint, slot) => elements.push({ set: map, key: `${key} . ${slot}`, value: `${endpoint.ip} . ${endpoint.port}`, group: key }));
    if (port.affinityTimeoutSeconds !== null) {
      const objects = affinityObjects(family, port.id, tag, protocol, port.affinityTimeoutSeconds, endpoints);
      affinity.set(tag, objects);
      return `goto ${objects.chains[0]!.name}`;
    }
    const pick = { kind, protocol, count: endpoints.length };
    picks.add(`${kind}:${protocol}:${endpoints.length}`);
    return sharedVerdict(pickChainBase(pick), generation);
  };

  for (const ip of clusterIPs) elements.push({ set: SET.clusterIPs, key: ip, group: ip });
  for (const ip of clusterIPs) {
    const key = `${ip} . ${protocol} . ${port.port}`;
    if (internal.length === 0) {
      elements.push({ set: SET.noEndpointServices, key, value: unusable, group: key });
      continue;
    }
    elements.push({ set: SET.serviceIPs, key, value: sharedVerdict(CHAIN.cluster, generation), group: key });
    elements.push({ set: SET.pick, key, value: pickFrom(SET.pick, SET.endpoints, key, internal, 'i'), group: key });
  }

  const externalTag = sameEndpoints(internal, external) ? 'i' : 'x';
  /** An external frontend: outside clients get `external` (eTP), pods and the node `internal` when eTP is Local. */
  const addExternal = (frontend: ExternalFrontend, key: string): void => {
    if (external.length === 0 && (!port.externalTrafficLocal || internal.length === 0)) {
      elements.push({ set: frontend.noEndpoints, key, value: unusable, group: key });
      return;
    }
    elements.push({ set: frontend.dispatch, key, value: sharedVerdict(port.externalTrafficLocal ? frontend.localPolicy : frontend.policy, generation), group: key });
    if (external.length > 0) elements.push({ set: frontend.pick, key, value: pickFrom(frontend.pick, frontend.endpoints, key, external, externalTag), group: key });
    if (port.externalTrafficLocal && internal.length > 0) {
      elements.push({ set: frontend.pickCluster, key, value: pickFrom(frontend.pickCluster, frontend.clusterEndpoints, key, internal, 'i'), group: key });
    }
  };

  const ranges = port.loadBalancerSourceRanges.filter((cidr) => ipFamily(cidr.split('/')[0]!) === version);
  for (const ip of new Set([...port.externalIPs, ...port.loadBalancerIPs].filter((address) => ipFamily(address) === version))) {
    const key = `${ip} . ${protocol} . ${port.port}`;
    addExternal(EXTERNAL_IP, key);
    if (port.loadBalancerIPs.includes(ip) && port.loadBalancerSourceRanges.length > 0) {
      elements.push({ set: SET.firewall, key, group: key });
      for (const range of ranges) elements.push({ set: SET.firewallAllow, key: `${key} . ${range}`, group: key });
    }
  }
  if (port.nodePort !== null) addExternal(NODE_PORT, `${protocol} . ${port.nodePort}`);

  // A pod reaching itself through its service must be masqueraded, or it would answer itself directly.
  for (const ip of new Set([...internal, ...external].map((endpoint) => endpoint.ip))) {
    const key = `${ip} . ${ip}`;
    elements.push({ set: SET.hairpin, key, group: key });
  }

  return {
    elements,
    picks: [...picks],
    affinity: affinity.size === 0 ? NO_AFFINITY : { sets: [...affinity.values()].flatMap((objects) => objects.sets), chains: [...affinity.values()].flatMap((objects) => objects.chains) },
  };
}

/**
 * ClientIP affinity as kube-proxy does it: a dynamic set of client addresses per endpoint, refreshed
 * by each new connection; a client found in one goes back to that endpoint, others pick at random.
 * The timeout is part of the set's name, so a changed timeout makes new sets instead of editing them.
 */
function affinityObjects(family: NftFamily, portId: string, tag: 'i' | 'x', protocol: string, timeout: number, endpoints: readonly Endpoint[]): { sets: NamedSet[]; chains: NamedChain[] } {
  const main = `aff-${portId}-${tag}`;
  const perEndpoint = endpoints.map((endpoint) => {
    const id = kernelId(endpointAddress(endpoint));
    return { endpoint, set: `${main}-${id}-t${timeout}`, chain: `affep-${portId}-${tag}-${id}` };
  });
  const verdicts = perEndpoint.map((entry, slot) => `${slot} : goto ${entry.chain}`).join(', ');
  return {
    sets: perEndpoint.map((entry) => ({ name: entry.set, spec: `typeof ${family} saddr; flags dynamic,timeout; timeout ${timeout}s;` })),
    chains: [
      { name: main, rules: [...perEndpoint.map((entry) => `${family} saddr @${entry.set} goto ${entry.chain}`), `numgen random mod ${endpoints.length} vmap { ${verdicts} }`] },
      ...perEndpoint.map((entry) => ({
        name: entry.chain,
        rules: [`update @${entry.set} { ${family} saddr }`, `meta l4proto ${protocol} dnat ${family} to ${endpointAddress(entry.endpoint)}`],
      })),
    ],
  };
}

/** Affinity chains and sets carry these prefixes; everything else kplane names is per generation. */
export function isAffinityObject(name: string): boolean {
  return name.startsWith('aff-') || name.startsWith('affep-');
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a.length === b.length && a.every((endpoint, index) => endpointAddress(endpoint) === endpointAddress(b[index]!));
}
