import type { ProxyConfig } from '@kplane/core';
import { tableContents, type TableListing } from '../client/listing.js';
import type { NftFamily } from '../client/transaction.js';
import { elementDrift, expectedElements, expectedTable, structureDrift } from './audit.js';
import { WrittenTable } from './written-table.js';

/**
 * `kplane plan --diff` for one family: the whole listed table (rules and elements) against what the
 * plan writes. The plan builds the next generation beside the kernel's; the generation number is no
 * difference, so the plan's table is rebuilt from its states at the kernel's generation, then
 * compared as the audit compares (structure, every element, objects kplane's plan has not).
 */
export function tableDiff(family: NftFamily, plan: WrittenTable, listing: TableListing | null, config: ProxyConfig): string[] {
  if (!listing) return [`${family}: table kplane is missing`];
  const generation = WrittenTable.fromKernel(family, tableContents(listing)).generation || plan.generation;
  const atKernel = WrittenTable.build(family, generation, plan.states.values(), () => {});
  atKernel.serviceCIDRs = plan.serviceCIDRs;
  const expected = expectedTable(atKernel, config);
  const elements = [...expectedElements(atKernel, expected)].filter(([name]) => listing.sets.has(name));
  return [...structureDrift(family, expected, listing), ...elements.flatMap(([name, set]) => elementDrift(family, name, set, listing.sets.get(name)))];
}
