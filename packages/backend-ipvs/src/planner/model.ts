import type { KernelState } from '../kernel/kernel-state.js';
import { DesiredIndex } from './desired-index.js';

/**
 * The backend's idea of the kernel between full syncs: kplane's objects as the last successful
 * sync left them, and the port objects they were planned from. Only a plan's `commit()` changes it.
 */
export interface IpvsModel {
  kernel: KernelState;
  desired: DesiredIndex;
}

/** Before the first (full) sync: nothing known. */
export function emptyModel(): IpvsModel {
  return {
    kernel: { services: new Map(), members: new Set(), vips: new Set(), dummy: false, chains: new Map() },
    desired: new DesiredIndex(),
  };
}
