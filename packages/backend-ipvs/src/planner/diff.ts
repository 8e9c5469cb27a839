import { iptablesCommand, type IPFamily } from '@kplane/core';
import { jumpCount, type RuleListing } from '../kernel/iptables-listing.js';
import { ownedState, type KernelListing, type KernelState } from '../kernel/kernel-state.js';
import { chainDifference } from './audit.js';
import { JUMPS } from './iptables-rules.js';
import { DUMMY_INTERFACE } from './names.js';

/**
 * `kplane plan --diff`: the kernel as a full sync lists it (`ipvsadm -S -n`, `ipset save`, the
 * dummy's addresses, `iptables -S`) against what the plan leaves there (the model's kernel state),
 * both ways: every virtual service with its scheduler, persistence and real servers, every set
 * member, service address, chain and jump of kplane's. Foreign objects are not compared; nor are
 * the sysctls, which every full sync writes again.
 */
export function kernelDiff(planned: KernelState, listing: KernelListing, rules: ReadonlyMap<IPFamily, RuleListing>): string[] {
  const kernel = ownedState(listing, rules, (key) => planned.services.has(key));
  const drift: string[] = [];
  for (const [key, service] of planned.services) {
    const listed = kernel.services.get(key);
    if (!listed) {
      drift.push(`ipvs: virtual service ${key} is missing`);
      continue;
    }
    if (listed.scheduler !== service.scheduler || listed.persistence !== service.persistence) {
      drift.push(`ipvs: virtual service ${key} is "-s ${listed.scheduler} -p ${listed.persistence ?? 'none'}", the plan has "-s ${service.scheduler} -p ${service.persistence ?? 'none'}"`);
    }
    for (const [real, weight] of service.reals) {
      const listedWeight = listed.reals.get(real);
      if (listedWeight !== weight) drift.push(`ipvs: virtual service ${key} has real server ${real} ${listedWeight === undefined ? 'missing' : `at weight ${listedWeight}`}, the plan has weight ${weight}`);
    }
    for (const real of listed.reals.keys()) if (!service.reals.has(real)) drift.push(`ipvs: virtual service ${key} has real server ${real}, not in the plan`);
  }
  for (const key of kernel.services.keys()) if (!planned.services.has(key)) drift.push(`ipvs: virtual service ${key} is not in the plan`);
  drift.push(...missing('ipset: set member', planned.members, kernel.members), ...missing('ip: address', planned.vips, kernel.vips));
  if (planned.dummy && !kernel.dummy) drift.push(`ip: ${DUMMY_INTERFACE} is missing`);
  for (const [key, chainRules] of planned.chains) {
    const difference = chainDifference(chainRules, kernel.chains.get(key));
    if (difference) drift.push(`${tool(key)}: chain ${key.slice(key.indexOf(' ') + 1)} ${difference}`);
  }
  for (const key of kernel.chains.keys()) if (!planned.chains.has(key)) drift.push(`${tool(key)}: chain ${key.slice(key.indexOf(' ') + 1)} is not in the plan`);
  for (const [family, listed] of rules) {
    for (const jump of JUMPS) {
      const count = jumpCount(listed, jump);
      if (count !== 1) drift.push(`${iptablesCommand(family)}: ${jump.table} ${jump.chain} has ${count} jumps to ${jump.target}, the plan has 1`);
    }
  }
  return drift;
}

/** What one side holds and the other lacks, both ways. */
function missing(what: string, planned: ReadonlySet<string>, listed: ReadonlySet<string>): string[] {
  return [
    ...[...planned].filter((item) => !listed.has(item)).map((item) => `${what} ${item} is missing`),
    ...[...listed].filter((item) => !planned.has(item)).map((item) => `${what} ${item} is not in the plan`),
  ];
}

/** The tool of a chain key (`4 KPLANE-…` → iptables). */
function tool(key: string): string {
  return iptablesCommand(Number(key.slice(0, key.indexOf(' '))) as IPFamily);
}
