import type { Batch, IPFamily, PacketTrace, TracePacket } from '@kplane/core';
import { FakeIptablesTables } from '@kplane/core/testing';
import type { IptablesClient, Mode } from '../client/client.js';
import { traceRules } from './trace-rules.js';

/**
 * `kplane trace` for the iptables backend: the family's nat and filter tables as iptables-save
 * prints them now, or — with `planned`, a dry-run sync's batches — as its restores leave them, both
 * read by core's FakeIptablesTables (the parser of restore input), then followed rule by rule.
 */
export async function traceIptables(client: IptablesClient, mode: Mode, packet: TracePacket, planned?: readonly Batch[]): Promise<PacketTrace> {
  const family: IPFamily = packet.destination.includes(':') ? 6 : 4;
  const tables = new FakeIptablesTables({ tool: 'trace' });
  if (planned) {
    for (const batch of planned) if (/-restore$/.test(batch.tool) && batch.tool.startsWith(family === 6 ? 'ip6tables' : 'iptables')) tables.restore(batch.input, true);
  } else {
    tables.restore(await client.save(mode, family), true);
  }
  return traceRules({ nat: tables.chains('nat'), filter: tables.chains('filter') }, packet, planned ? 'plan' : 'kernel');
}
