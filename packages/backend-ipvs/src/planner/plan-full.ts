import type { IPFamily, ProxyConfig, ProxyState } from '@kplane/core';
import { jumpCount, type RuleListing } from '../kernel/iptables-listing.js';
import { ownedState, type KernelListing } from '../kernel/kernel-state.js';
import { DesiredIndex } from './desired-index.js';
import { JUMPS, kplaneChains, type Jump } from './iptables-rules.js';
import type { IpvsModel } from './model.js';
import { applyUpdates, planSync, type IpvsPlan } from './plan.js';
import { portObjects, type PortSettings } from './port-objects.js';
import { FAMILIES } from './sets.js';

/** What a full sync plans from: the kernel as listed (the only time the backend lists it), per family its iptables rules. */
export interface KernelSnapshot {
  readonly listing: KernelListing;
  readonly rules: ReadonlyMap<IPFamily, RuleListing>;
}

type RuleConfig = Pick<ProxyConfig, 'clusterCIDRs' | 'masqueradeAll' | 'masqueradeBit'>;

/**
 * A full sync (pure): every port's objects against the listed kernel, everything kplane owns
 * converged. `commit()` makes the listed kernel, with the plan's changes, the model.
 */
export function planFull(model: IpvsModel, snapshot: KernelSnapshot, state: ProxyState, settings: PortSettings, config: RuleConfig): IpvsPlan {
  const desired = DesiredIndex.of([...state.values()].map((port) => [port.servicePort.key, portObjects(port, settings)] as const));
  const kernel = ownedState(snapshot.listing, snapshot.rules, (key) => desired.service(key) !== undefined);
  const missingJumps = new Map<IPFamily, readonly Jump[]>(FAMILIES.map((family) => [family, JUMPS.filter((jump) => jumpCount(snapshot.rules.get(family) ?? new Map(), jump) === 0)]));
  const { updates, ...batches } = planSync(kernel, desired, {
    full: true,
    services: [...kernel.services.keys(), ...desired.serviceKeys()],
    members: [...kernel.members, ...desired.allMembers()],
    vips: [...kernel.vips, ...desired.allVips()],
    chains: FAMILIES.flatMap((family) => kplaneChains(family, config, desired.shortcutRules(family), state.serviceCIDRs)),
    missingJumps,
  });
  return {
    ...batches,
    commit: () => {
      applyUpdates(kernel, updates);
      model.kernel = kernel;
      model.desired = desired;
    },
  };
}
