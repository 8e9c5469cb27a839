import { ContainerModule, TOKENS, type Executor } from '@kplane/core';
import { NFT_CLIENT, NftBackend } from './nft-backend.js';
import { ExecNft } from './nft/nft-client.js';

export { NFT_CLIENT, NftBackend } from './nft-backend.js';
export { ExecNft, type NftClient, type TableContents } from './nft/nft-client.js';
export { FakeNft, FakeNftError } from './nft/fake-nft.js';
export { NftTransaction, type NftElement, type NftFamily, type NftObject, type NftOperation } from './nft/transaction.js';

/** `--backend nft`: the nftables backend, writing through `nft -f` (rebind NFT_CLIENT to a FakeNft in tests). */
export default new ContainerModule(({ bind }) => {
  bind(NFT_CLIENT).toDynamicValue((context) => new ExecNft(context.get<Executor>(TOKENS.Executor))).inSingletonScope();
  bind(TOKENS.Backend).to(NftBackend).inSingletonScope();
});
