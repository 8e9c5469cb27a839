import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { REPO_ROOT } from './paths.js';

/**
 * The measured agent as one JavaScript file, built from the workspaces' TypeScript sources (never a
 * stale dist) and run with plain node: a TypeScript loader in the agent would add its own memory to
 * the RSS being measured. Third-party packages stay external, loaded from node_modules as in a
 * deployment; the file sits under node_modules/.cache so that they resolve.
 */
export async function bundleAgent(): Promise<string> {
  const directory = join(REPO_ROOT, 'node_modules/.cache/kplane-bench');
  mkdirSync(directory, { recursive: true });
  const outfile = join(directory, `agent-${process.pid}.mjs`);
  await build({
    entryPoints: [join(REPO_ROOT, 'bench/src/agent/agent.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['kplane-source'],
    tsconfig: join(REPO_ROOT, 'tsconfig.json'),
    plugins: [thirdPartyExternal],
    logLevel: 'error',
  });
  return outfile;
}

/** Bundles kplane's workspaces and relative imports; leaves every other package to node. */
const thirdPartyExternal: Plugin = {
  name: 'third-party-external',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@kplane/') ? undefined : { path: args.path, external: true }));
  },
};
