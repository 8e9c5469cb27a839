import { ContainerModule, TOKENS, type Executor } from '@kplane/core';
import type { IpvsClient } from './client/client.js';
import { ExecIpvsClient } from './client/exec-client.js';
import { IPVS_CLIENT, IpvsBackend, KERNEL_RELEASE } from './ipvs-backend.js';

export { IPVS_CLIENT, IpvsBackend, KERNEL_RELEASE } from './ipvs-backend.js';
export type { IpvsClient } from './client/client.js';
export { ExecIpvsClient } from './client/exec-client.js';
export { FakeIpvsClient, type FakeBatch, type FakeIpvsClientOptions, type FakeTool } from './client/fake-client.js';
export { IpsetTransaction, IpTransaction, IpvsadmTransaction, type ServiceHeader } from './client/transaction.js';
export { ipvsSysctls, kernelVersion, type SysctlChoice } from './kernel/sysctls.js';
export { SCHEDULERS } from './options.js';

export interface IpvsModuleOptions {
  /** The kernel release to plan for (the running kernel's, read at init, by default; tests pin one). */
  readonly kernelRelease?: string;
  /** The tools' client (an ExecIpvsClient on core's executor by default; a FakeIpvsClient in tests). */
  readonly client?: IpvsClient;
}

/** `--backend ipvs`: the ipvs backend on its client. */
export function ipvsModule({ kernelRelease, client }: IpvsModuleOptions = {}): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(KERNEL_RELEASE).toConstantValue(kernelRelease ?? null);
    if (client) bind(IPVS_CLIENT).toConstantValue(client);
    else bind(IPVS_CLIENT).toDynamicValue((context) => new ExecIpvsClient(context.get<Executor>(TOKENS.Executor))).inSingletonScope();
    bind(TOKENS.Backend).to(IpvsBackend).inSingletonScope();
  });
}

export default ipvsModule();
