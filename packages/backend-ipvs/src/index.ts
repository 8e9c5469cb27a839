import { release } from 'node:os';
import { ContainerModule, TOKENS } from '@kplane/core';
import { IpvsBackend, KERNEL_RELEASE } from './ipvs-backend.js';

export { IpvsBackend, KERNEL_RELEASE };
export { ipvsSysctls, kernelVersion, type SysctlChoice } from './sysctls.js';
export { SCHEDULERS } from './settings.js';

/** The ipvs backend for a kernel release (the running kernel's by default; tests pin one). */
export function ipvsModule(kernelRelease: string = release()): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(KERNEL_RELEASE).toConstantValue(kernelRelease);
    bind(TOKENS.Backend).to(IpvsBackend).inSingletonScope();
  });
}

export default ipvsModule();
