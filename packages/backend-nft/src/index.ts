import { ContainerModule, TOKENS, type DataplaneBackend } from '@kplane/core';

/** Placeholder until the IPVS backend lands: declares no features, so core refuses every Service clearly. */
const backend: DataplaneBackend = {
  name: 'nft',
  description: 'nftables verdict maps (not built yet)',
  features: new Set(),
  usesConntrack: true,
  init: () => Promise.reject(new Error('the nft backend is not built yet')),
  sync: () => Promise.reject(new Error('the nft backend is not built yet')),
  activeConnections: () => Promise.resolve(new Map()),
  cleanup: () => Promise.resolve(),
};

export default new ContainerModule(({ bind }) => {
  bind(TOKENS.Backend).toConstantValue(backend);
});
