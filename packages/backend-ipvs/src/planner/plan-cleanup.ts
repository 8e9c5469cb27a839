import { IPTABLES_TABLES, IptablesTransaction } from '@kplane/core';
import { IpsetTransaction, IpTransaction, IpvsadmTransaction } from '../client/transaction.js';
import { jumpCount, ownChains, type RuleListing } from '../kernel/iptables-listing.js';
import type { KernelState } from '../kernel/kernel-state.js';
import { JUMPS, jumpRule } from './iptables-rules.js';
import { DUMMY_INTERFACE } from './names.js';

/**
 * The removals of `cleanup` (pure), one batch per tool, from what the listings show of kplane's
 * objects (found by their marks, no saved state). Chains go before the sets they match on.
 */

/** Deletes the jumps (every copy), then kplane's chains. */
export function rulesCleanup(listing: RuleListing): IptablesTransaction {
  const transaction = new IptablesTransaction();
  for (const table of IPTABLES_TABLES) {
    for (const jump of JUMPS.filter((candidate) => candidate.table === table)) {
      for (let copy = jumpCount(listing, jump); copy > 0; copy--) transaction.deleteRule(table, jump.chain, jumpRule(jump));
    }
    for (const chain of ownChains(listing, table).keys()) transaction.deleteChain(table, chain);
  }
  return transaction;
}

/** Deletes kplane's virtual services. */
export function servicesCleanup(kernel: KernelState): IpvsadmTransaction {
  const transaction = new IpvsadmTransaction();
  for (const key of [...kernel.services.keys()].sort()) transaction.deleteService(key);
  return transaction;
}

/** Deletes the dummy interface (its addresses go with it). */
export function dummyCleanup(kernel: KernelState): IpTransaction {
  const transaction = new IpTransaction();
  if (kernel.dummy) transaction.deleteLink(DUMMY_INTERFACE);
  return transaction;
}

/** Destroys kplane's sets (no `-exist`: each is there, the listing showed it). */
export function setsCleanup(sets: Iterable<string>): IpsetTransaction {
  const transaction = new IpsetTransaction(false);
  for (const name of [...sets].sort()) transaction.destroy(name);
  return transaction;
}
