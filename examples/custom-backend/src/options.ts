import type { ProxyConfig } from '@kplane/core';

/** `--backend-opt file=PATH`: the file to write (kplane-state.jsonl in the working directory by default). */
export const OPTION_KEYS = ['file'] as const;

export function jsonlFile(config: ProxyConfig): string {
  return config.backendOptions.get('file') ?? 'kplane-state.jsonl';
}
