import { ContainerModule, TOKENS } from '@kplane/core';
import { IptablesBackend } from './iptables-backend.js';

export { IptablesBackend };
export { FakeIptables } from './iptables/fake-iptables.js';
export type { Mode } from './iptables/tools.js';
export { DEFAULT_LEAF_SIZE, type IptablesOptions, type Layout } from './options.js';
export { depthBound } from './tree/prefix-tree.js';

/** `--backend iptables`: binds the iptables backend (`--backend-opt layout=tree|flat`, `mode=nft|legacy`, `leaf-size=N`). */
export default new ContainerModule(({ bind }) => {
  bind(TOKENS.Backend).to(IptablesBackend).inSingletonScope();
});
