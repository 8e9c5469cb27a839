import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of every workspace (the `kplane-source` export condition),
// never against a stale build. Vitest resolves for the server (SSR) environment.
const resolve = { conditions: ['kplane-source'] };
const ssr = { resolve: { conditions: ['kplane-source'], externalConditions: ['kplane-source'] } };

export default defineConfig({
  resolve,
  ssr,
  test: {
    projects: [
      {
        resolve,
        ssr,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
          exclude: ['**/*.kernel.test.ts', '**/*.vm.test.ts', '**/node_modules/**'],
        },
      },
      {
        resolve,
        ssr,
        test: {
          name: 'kernel',
          include: ['packages/*/test/**/*.kernel.test.ts'],
          // Kernel tests program real rules in namespaces: one file at a time keeps timings and failures readable.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
