import type { IPFamily, ProxyState, ServicePortKey } from '@kplane/core';
import { localChain, serviceCIDRChain, type Chain } from './iptables-rules.js';
import type { IpvsModel } from './model.js';
import { applyUpdates, planSync, type IpvsPlan } from './plan.js';
import { portObjects, type PortObjects, type PortSettings } from './port-objects.js';
import { FAMILIES } from './sets.js';

/**
 * A partial sync (pure): only the changed ports' objects, against the model (no listing, no work
 * for the other ports). The ports' new objects go into a draft of the model's index; `commit()`
 * applies the draft and the plan's changes to the model.
 */
export function planPartial(model: IpvsModel, changed: ReadonlySet<ServicePortKey>, state: ProxyState, settings: PortSettings): IpvsPlan {
  const draft = model.desired.draft();
  const services = new Set<string>();
  const members = new Set<string>();
  const vips = new Set<string>();
  const shortcutFamilies = new Set<IPFamily>();
  const collect = (objects: PortObjects | undefined): void => {
    for (const service of objects?.services ?? []) services.add(service.key);
    for (const entry of objects?.members ?? []) members.add(entry);
    for (const vip of objects?.vips ?? []) vips.add(vip);
  };
  for (const key of changed) {
    const port = state.get(key);
    const next = port && portObjects(port, settings);
    const previous = draft.replace(key, next);
    collect(previous);
    collect(next);
    // The shortcut chain is rebuilt only for a family whose rules this port changed (an endpoint change leaves them alone).
    for (const rule of symmetricDifference(previous?.shortcuts ?? [], next?.shortcuts ?? [])) shortcutFamilies.add(Number(rule[0]) as IPFamily);
  }
  // The service-CIDR chains go along every time: the plan writes one only when its rules differ from the kernel's.
  const chains: Chain[] = [
    ...[...shortcutFamilies].map((family) => localChain(family, draft.shortcutRules(family))),
    ...FAMILIES.map((family) => serviceCIDRChain(family, state.serviceCIDRs)),
  ];
  const { updates, ...batches } = planSync(model.kernel, draft, { full: false, services, members, vips, chains, missingJumps: new Map() });
  return {
    ...batches,
    commit: () => {
      draft.commit();
      applyUpdates(model.kernel, updates);
    },
  };
}

/** Items in exactly one of the two lists. */
function symmetricDifference(a: readonly string[], b: readonly string[]): string[] {
  const inA = new Set(a);
  const inB = new Set(b);
  return [...a.filter((item) => !inB.has(item)), ...b.filter((item) => !inA.has(item))];
}
