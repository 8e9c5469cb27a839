import type { BackendInfo } from '../backend/contract.js';
import type { ProxyConfig } from '../config/proxy-config.js';
import type { Logger } from '../logging/logger.js';

/**
 * Refuses `--backend-opt` keys the backend does not read (a typo would otherwise be dropped silently).
 * A plugin that declares no `optionKeys` cannot be checked: that is said once.
 */
export function checkBackendOptions(backend: Pick<BackendInfo, 'name' | 'optionKeys'>, config: Pick<ProxyConfig, 'backendOptions'>, logger: Logger): void {
  const keys = [...config.backendOptions.keys()];
  if (keys.length === 0) return;
  const known = backend.optionKeys;
  if (known === undefined) {
    logger.warn({ backend: backend.name, keys }, 'the backend declares no optionKeys: its --backend-opt keys cannot be checked');
    return;
  }
  const unknown = keys.find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw new Error(`--backend-opt ${unknown}: the ${backend.name} backend has no such option (it reads: ${known.join(', ') || 'none'})`);
  }
}
