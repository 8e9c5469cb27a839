import { ContainerModule, TOKENS, type Executor } from '@kplane/core';
import { ExecIptablesClient } from './client/exec-client.js';
import { IPTABLES_CLIENT, IptablesBackend } from './iptables-backend.js';

export { IPTABLES_CLIENT, IptablesBackend } from './iptables-backend.js';
export type { IptablesClient, Mode } from './client/client.js';
export { ExecIptablesClient } from './client/exec-client.js';
export { FakeIptablesClient, type Restore } from './client/fake-client.js';
export { DEFAULT_LEAF_SIZE, type IptablesOptions, type Layout } from './options.js';
export { depthBound } from './tree/prefix-tree.js';

/**
 * `--backend iptables`: binds the iptables backend (`--backend-opt layout=tree|flat`, `mode=nft|legacy`, `leaf-size=N`),
 * writing through ExecIptablesClient (rebind IPTABLES_CLIENT to a FakeIptablesClient in tests).
 */
export default new ContainerModule(({ bind }) => {
  bind(IPTABLES_CLIENT).toDynamicValue((context) => new ExecIptablesClient(context.get<Executor>(TOKENS.Executor))).inSingletonScope();
  bind(TOKENS.Backend).to(IptablesBackend).inSingletonScope();
});
