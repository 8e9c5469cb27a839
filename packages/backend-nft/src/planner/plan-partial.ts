import { isDeepStrictEqual } from 'node:util';
import type { ProxyState, ServicePortKey } from '@kplane/core';
import { NftTransaction, type NftFamily } from '../client/transaction.js';
import { CHAIN, clusterIPsCheckRules, FAMILIES, generationName, ofFamily, parsePick, pickChainName, pickChainRule, TABLE } from './layout.js';
import { ElementsBySet, type NftPlan } from './plan.js';
import { TableDraft, type WrittenTable, type WrittenTables } from './written-table.js';

/**
 * Plans a partial sync: one transaction with only the elements, pick chains and affinity objects
 * of the changed service ports (and a cluster-ips-check chain whose service CIDRs changed), in an
 * order the kernel accepts — chains before the verdicts that jump to them, and removals after the
 * last reference is gone. No transaction at all when nothing changed.
 */
export function planPartial(tables: WrittenTables, changed: ReadonlySet<ServicePortKey>, state: ProxyState): NftPlan {
  const tx = new NftTransaction(TABLE);
  const drafts = FAMILIES.map((family) => planFamily(tx, family, tables[family], changed, state));
  return {
    stages: tx.size > 0 ? [[tx]] : [],
    commit: () => {
      for (const draft of drafts) draft.commit();
    },
  };
}

function planFamily(tx: NftTransaction, family: NftFamily, table: WrittenTable, changed: ReadonlySet<ServicePortKey>, state: ProxyState): TableDraft {
  const draft = new TableDraft(table);
  for (const key of changed) draft.replace(key, state.get(key));
  const serviceCIDRs = ofFamily(family, state.serviceCIDRs);
  if (!isDeepStrictEqual(serviceCIDRs, table.serviceCIDRs)) {
    const chain = generationName(CHAIN.clusterIPsCheck, table.generation);
    tx.flush(family, { kind: 'chain', name: chain });
    for (const rule of clusterIPsCheckRules(family, table.generation, serviceCIDRs)) tx.add(family, { kind: 'rule', chain, rule });
    draft.serviceCIDRs = serviceCIDRs;
  }

  const picks = [...draft.touchedPicks].map((pick) => ({ pick, before: table.pickRefs.get(pick) ?? 0, after: draft.pickCount(pick) }));
  const affinity = draft.affinityChanges();

  for (const { pick } of picks.filter(({ before, after }) => before === 0 && after > 0)) {
    const name = pickChainName(parsePick(pick), table.generation);
    tx.add(family, { kind: 'chain', name }).add(family, { kind: 'rule', chain: name, rule: pickChainRule(family, parsePick(pick), table.generation) });
  }
  for (const set of affinity.sets) tx.add(family, { kind: 'set', name: set.name, spec: set.spec });
  for (const { chain, existed } of affinity.chains) if (!existed) tx.add(family, { kind: 'chain', name: chain.name });
  for (const { chain, existed } of affinity.chains) {
    if (existed) tx.flush(family, { kind: 'chain', name: chain.name });
    for (const rule of chain.rules) tx.add(family, { kind: 'rule', chain: chain.name, rule });
  }

  const deletes = new ElementsBySet();
  const adds = new ElementsBySet();
  const changes = draft.elementChanges();
  for (const { set, key } of changes.delete) deletes.push(set, { key });
  for (const { set, key, value } of changes.add) adds.push(set, { key, value });
  for (const [set, elements] of deletes) tx.delete(family, { kind: 'elements', set: generationName(set, table.generation), elements });
  for (const [set, elements] of adds) tx.add(family, { kind: 'elements', set: generationName(set, table.generation), elements });

  for (const name of affinity.removedChains) tx.flush(family, { kind: 'chain', name });
  for (const name of affinity.removedChains) tx.delete(family, { kind: 'chain', name });
  for (const name of affinity.removedSets) tx.delete(family, { kind: 'set', name });
  for (const { pick } of picks.filter(({ before, after }) => before > 0 && after === 0)) {
    const name = pickChainName(parsePick(pick), table.generation);
    tx.flush(family, { kind: 'chain', name }).delete(family, { kind: 'chain', name });
  }
  return draft;
}
