import type { ListedAddress } from './address-listing.js';
import { DUMMY_INTERFACE } from '../planner/names.js';

/**
 * The node addresses that may answer NodePorts: those on kplane-ipvs0 alone are service addresses,
 * not the node's. Addresses detected from the node's interfaces include every VIP a previous kplane
 * left on the dummy, and NodePorts would then open on each of them after a restart. Like kube-proxy's
 * ipvs mode, an address counts when an interface other than the dummy holds it (an external IP set to
 * a node's own address stays a node address).
 */
export function nodeAddresses(candidates: readonly string[], listing: readonly ListedAddress[]): { kept: string[]; dropped: string[] } {
  const onDummy = new Set(listing.filter(({ device }) => device === DUMMY_INTERFACE).map(({ address }) => address));
  const elsewhere = new Set(listing.filter(({ device }) => device !== DUMMY_INTERFACE).map(({ address }) => address));
  const serviceOnly = (ip: string): boolean => onDummy.has(ip) && !elsewhere.has(ip);
  return { kept: candidates.filter((ip) => !serviceOnly(ip)), dropped: candidates.filter(serviceOnly) };
}
