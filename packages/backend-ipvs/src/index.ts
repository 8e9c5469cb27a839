import { ContainerModule, TOKENS, type DataplaneBackend } from '@kplane/core';

/** Placeholder until the IPVS backend lands: declares no features, so core refuses every Service clearly. */
const backend: DataplaneBackend = {
  name: 'ipvs',
  description: 'IPVS virtual servers with batched ipset (not built yet)',
  features: new Set(),
  usesConntrack: true,
  init: () => Promise.reject(new Error('the ipvs backend is not built yet')),
  sync: () => Promise.reject(new Error('the ipvs backend is not built yet')),
  activeConnections: () => Promise.resolve(new Map()),
  cleanup: () => Promise.resolve(),
};

export default new ContainerModule(({ bind }) => {
  bind(TOKENS.Backend).toConstantValue(backend);
});
