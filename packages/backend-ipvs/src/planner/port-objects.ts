import { endpointAddress, ipFamily, type Endpoint, type IPFamily, type ServicePortState } from '@kplane/core';
import { localShortcuts } from './iptables-rules.js';
import { ipPortEntry, member, setName, type SetKind } from './sets.js';
import { serviceKey, type VirtualService } from './virtual-service.js';

/** What the backend settings add to a port's own state. */
export interface PortSettings {
  readonly scheduler: string;
  /** The node addresses that answer NodePorts (`--node-ip` filtered by `--nodeport-addresses`). */
  readonly nodePortIPs: readonly string[];
  readonly clusterCIDRs: readonly string[];
}

/** Everything one service port needs in the kernel. */
export interface PortObjects {
  readonly services: readonly VirtualService[];
  /** `set entry` strings. */
  readonly members: readonly string[];
  /** Addresses for the dummy interface. */
  readonly vips: readonly string[];
  /** Rules of the shortcut chain, each prefixed by its family (`4 -A KPLANE-IPVS-LOCAL ...`). */
  readonly shortcuts: readonly string[];
}

/**
 * The kernel objects of one service port (pure). Cluster IPs get the internally selected endpoints,
 * node ports, external and load-balancer IPs the externally selected ones; draining endpoints stay
 * with weight 0 (the planner keeps them only where they are already programmed).
 */
export function portObjects(state: ServicePortState, settings: PortSettings): PortObjects {
  const port = state.servicePort;
  const services: VirtualService[] = [];
  const members: string[] = [];
  const vips: string[] = [];
  const shortcuts: string[] = [];
  const proto = port.protocol.toLowerCase();
  const virtualService = (ip: string, servicePort: number, endpoints: readonly Endpoint[]): void => {
    const family = ipFamily(ip);
    const reals = new Map<string, number>();
    for (const endpoint of state.draining) if (endpoint.family === family) reals.set(endpointAddress(endpoint), 0);
    for (const endpoint of endpoints) if (endpoint.family === family) reals.set(endpointAddress(endpoint), 1);
    services.push({ key: serviceKey(port.protocol, ip, servicePort), scheduler: settings.scheduler, persistence: port.affinityTimeoutSeconds, reals });
  };
  const add = (kind: SetKind, family: IPFamily, entry: string): void => void members.push(member(setName(kind, family), entry));
  // Pods reaching an externalTrafficPolicy Local frontend are sent to the cluster IP (all endpoints).
  const shortcut = (frontend: string, frontendPort: number): void => {
    const clusterIP = port.clusterIPs.find((ip) => ipFamily(ip) === ipFamily(frontend));
    if (!port.externalTrafficLocal || clusterIP === undefined) return;
    const rules = localShortcuts(settings.clusterCIDRs, port.protocol, frontend, frontendPort, clusterIP, port.port);
    shortcuts.push(...rules.map((rule) => `${ipFamily(frontend)} ${rule}`));
  };

  for (const ip of port.clusterIPs) {
    virtualService(ip, port.port, state.internalEndpoints);
    add('cluster-ip', ipFamily(ip), ipPortEntry(ip, proto, port.port));
    add('vip', ipFamily(ip), ip);
    vips.push(ip);
  }
  const externalKind = port.externalTrafficLocal ? 'external-local' : 'external';
  for (const ip of [...port.externalIPs, ...port.loadBalancerIPs]) {
    virtualService(ip, port.port, state.externalEndpoints);
    add(externalKind, ipFamily(ip), ipPortEntry(ip, proto, port.port));
    add('vip', ipFamily(ip), ip);
    vips.push(ip);
    shortcut(ip, port.port);
  }
  if (port.loadBalancerSourceRanges.length > 0) {
    for (const ip of port.loadBalancerIPs) {
      const family = ipFamily(ip);
      add('lb-fw', family, ipPortEntry(ip, proto, port.port));
      for (const cidr of port.loadBalancerSourceRanges) {
        if (ipFamily(cidr) === family) add('lb-src', family, `${ipPortEntry(ip, proto, port.port)},${hostlessCIDR(cidr)}`);
      }
    }
  }
  if (port.nodePort !== null) {
    const families = new Set(port.clusterIPs.map(ipFamily));
    const nodePortKind = port.externalTrafficLocal ? 'node-port-local' : 'node-port';
    for (const ip of settings.nodePortIPs) {
      if (!families.has(ipFamily(ip))) continue;
      virtualService(ip, port.nodePort, state.externalEndpoints);
      add(nodePortKind, ipFamily(ip), ipPortEntry(ip, proto, port.nodePort));
      shortcut(ip, port.nodePort);
    }
  }
  const hairpins = new Map<string, Endpoint>();
  for (const endpoint of [...state.internalEndpoints, ...state.externalEndpoints, ...state.draining]) hairpins.set(endpointAddress(endpoint), endpoint);
  for (const endpoint of hairpins.values()) add('hairpin', endpoint.family, `${ipPortEntry(endpoint.ip, proto, endpoint.port)},${endpoint.ip}`);
  return { services, members, vips, shortcuts };
}

/** ipset lists a host-sized network without its prefix length: write it the same way, so listings compare equal. */
function hostlessCIDR(cidr: string): string {
  return cidr.endsWith('/32') || cidr.endsWith('/128') ? cidr.slice(0, cidr.lastIndexOf('/')) : cidr;
}
