import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';
import type { BenchBackend } from '../backends.js';
import { REPO_ROOT } from './paths.js';

/** Bundles kplane's workspaces and relative imports; leaves every other package to node. */
const thirdPartyExternal: Plugin = {
  name: 'third-party-external',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@kplane/') ? undefined : { path: args.path, external: true }));
  },
};

const FROM_SOURCES: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  conditions: ['kplane-source'],
  tsconfig: join(REPO_ROOT, 'tsconfig.json'),
  plugins: [thirdPartyExternal],
  logLevel: 'error',
};

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
  await build({ ...FROM_SOURCES, entryPoints: [join(REPO_ROOT, 'bench/src/agent/agent.ts')], outfile });
  return outfile;
}

/** The `kplane` CLI bundled from the sources, each built-in backend beside it for `--backend-module`, and the manifest-read timer. */
export interface CliBundle {
  readonly directory: string;
  readonly cli: string;
  readonly backendModules: Readonly<Record<BenchBackend['backend'], string>>;
  /** bench/src/measure/parse-manifest.ts */
  readonly parseManifest: string;
}

/**
 * The real `kplane` command as the agent is built (from the sources, run with plain node, never
 * through a TypeScript loader whose compile time would count as kplane's start-up). Core loads a
 * built-in backend by package name, which would resolve to its dist, so each backend is an entry of
 * its own, passed with `--backend-module`; code splitting gives the CLI and the backends one copy
 * of core. It sits under core's node_modules/.cache so that core's own dependencies resolve.
 */
export async function bundleCli(): Promise<CliBundle> {
  const directory = join(REPO_ROOT, `packages/core/node_modules/.cache/kplane-bench/cli-${process.pid}`);
  const packages = { nft: 'backend-nft', iptables: 'backend-iptables', ipvs: 'backend-ipvs' } as const;
  await build({
    ...FROM_SOURCES,
    entryPoints: {
      kplane: join(REPO_ROOT, 'packages/core/src/cli/main.ts'),
      ...Object.fromEntries(Object.entries(packages).map(([backend, name]) => [backend, join(REPO_ROOT, `packages/${name}/src/index.ts`)])),
      'parse-manifest': join(REPO_ROOT, 'bench/src/measure/parse-manifest.ts'),
    },
    outdir: directory,
    splitting: true,
    outExtension: { '.js': '.mjs' },
  });
  return {
    directory,
    cli: join(directory, 'kplane.mjs'),
    backendModules: { nft: join(directory, 'nft.mjs'), iptables: join(directory, 'iptables.mjs'), ipvs: join(directory, 'ipvs.mjs') },
    parseManifest: join(directory, 'parse-manifest.mjs'),
  };
}
