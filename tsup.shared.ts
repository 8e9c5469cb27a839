import { defineConfig, type Options } from 'tsup';

/** The build every kplane package shares: ESM + .d.ts for Node 20, with @kplane/core left external. */
export function packageBuild(entry: Options['entry'], options: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: true,
    target: 'node20',
    sourcemap: true,
    clean: true,
    external: ['@kplane/core'],
    ...options,
  });
}
