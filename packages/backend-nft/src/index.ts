import { ContainerModule, TOKENS, type Executor } from '@kplane/core';
import { ExecNftClient } from './client/exec-client.js';
import { NFT_CLIENT, NftBackend } from './nft-backend.js';

export { NFT_CLIENT, NftBackend } from './nft-backend.js';
export type { NftClient, TableContents } from './client/client.js';
export { ExecNftClient } from './client/exec-client.js';
export { FakeNftClient, FakeNftError } from './client/fake-client.js';
export { NftTransaction, type NftElement, type NftFamily, type NftObject, type NftOperation } from './client/transaction.js';

/** `--backend nft`: the nftables backend, writing through `nft -f` (rebind NFT_CLIENT to a FakeNftClient in tests). */
export default new ContainerModule(({ bind }) => {
  bind(NFT_CLIENT).toDynamicValue((context) => new ExecNftClient(context.get<Executor>(TOKENS.Executor))).inSingletonScope();
  bind(TOKENS.Backend).to(NftBackend).inSingletonScope();
});
