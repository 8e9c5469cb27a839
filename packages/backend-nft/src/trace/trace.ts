import type { Batch, PacketTrace, TracePacket } from '@kplane/core';
import type { NftClient } from '../client/client.js';
import { FakeNftClient } from '../client/fake-client.js';
import { FAMILIES, TABLE } from '../planner/layout.js';
import { traceTable } from './trace-table.js';

/**
 * `kplane trace` for the nft backend: kplane's tables as the kernel lists them now, or — with
 * `planned`, the batches of a dry-run sync — as those `nft -f` texts leave them (applied in order
 * to a FakeNftClient, the parser of exactly what is written), then followed rule by rule.
 */
export async function traceNft(client: NftClient, packet: TracePacket, planned?: readonly Batch[]): Promise<PacketTrace> {
  let source = client;
  if (planned) {
    const fake = new FakeNftClient();
    for (const batch of planned) if (batch.tool === 'nft') fake.apply(batch.input);
    source = fake;
  }
  const [ip, ip6] = await Promise.all(FAMILIES.map((family) => source.listTable(family, TABLE, { terse: false })));
  return traceTable({ ip: ip ?? null, ip6: ip6 ?? null }, packet, planned ? 'plan' : 'kernel');
}
