import { ipFamily, markHex, masqueradeMark, nodePortIPs, type IPFamily, type Protocol, type ProxyConfig } from '@kplane/core';
import type { IptablesOptions } from '../options.js';

/** What the rules of one IP family depend on besides the services: the node's settings. */
export interface FamilySettings {
  readonly family: IPFamily;
  /** Pod CIDRs of this family. */
  readonly clusterCIDRs: readonly string[];
  readonly masqueradeAll: boolean;
  /** Marks as `-j MARK` and `-m mark` write them, e.g. `0x4000`. */
  readonly masqueradeMark: string;
  readonly dropMark: string;
  readonly rejectMark: string;
  /** This node's addresses of this family that answer node ports, or null for every local address. */
  readonly nodePortAddresses: readonly string[] | null;
  /** Leaf size of the trees (Infinity: the flat layout). */
  readonly leafSize: number;
}

export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export function familySettings(config: ProxyConfig, options: IptablesOptions, family: IPFamily): FamilySettings {
  const ofFamily = (text: string): boolean => ipFamily(text.split('/')[0]!) === family;
  return {
    family,
    clusterCIDRs: config.clusterCIDRs.filter(ofFamily),
    masqueradeAll: config.masqueradeAll,
    masqueradeMark: masqueradeMark(config),
    dropMark: markHex(options.dropBit),
    rejectMark: markHex(options.rejectBit),
    nodePortAddresses: nodePortIPs(config)?.filter(ofFamily) ?? null,
    leafSize: options.leafSize,
  };
}
