import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The ipvs tests that need a kernel with ip_vs (`*.vm.test.ts`): scripts/ipvs-vm/run-tests.sh runs them
// inside the VM. Like the root config, they run against the workspaces' TypeScript sources.
const resolve = { conditions: ['kplane-source'] };
const ssr = { resolve: { conditions: ['kplane-source'], externalConditions: ['kplane-source'] } };

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve,
  ssr,
  test: {
    name: 'vm',
    include: ['packages/backend-ipvs/test/**/*.vm.test.ts'],
    // One file at a time (each builds a sandbox of namespaces; the VM has 2 emulated CPUs), all in one
    // module graph: under emulation importing @kplane/core costs tens of seconds, so it is done once.
    fileParallelism: false,
    isolate: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
