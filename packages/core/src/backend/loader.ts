import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ContainerModule } from 'inversify';

/** Built-in backends by name. Core knows only their package names: it never imports them statically. */
export const BUILTIN_BACKENDS: Readonly<Record<string, string>> = {
  nft: '@kplane/backend-nft',
  iptables: '@kplane/backend-iptables',
  ipvs: '@kplane/backend-ipvs',
};

export class BackendLoadError extends Error {
  override name = 'BackendLoadError';
}

/** `--backend NAME`: a built-in. */
export async function loadBuiltinBackend(name: string): Promise<ContainerModule> {
  const packageName = BUILTIN_BACKENDS[name];
  if (!packageName) throw new BackendLoadError(`unknown backend "${name}" (available: ${Object.keys(BUILTIN_BACKENDS).join(', ')}; or load a plugin with --backend-module)`);
  return defaultModule(await import(packageName), `backend "${name}" (${packageName})`);
}

/** `--backend-module X`: a file, a package directory, or a package name resolved from `cwd`. */
export async function loadBackendPlugin(specifier: string, cwd: string = process.cwd()): Promise<ContainerModule> {
  const isPath = specifier.startsWith('.') || specifier.startsWith('/');
  const target = isPath ? resolve(cwd, specifier) : findPackage(specifier, cwd);
  if (isPath && !existsSync(target!)) throw new BackendLoadError(`backend module ${specifier}: no such file or directory (${target})`);
  const url = target === null ? specifier : pathToFileURL(statSync(target).isDirectory() ? packageEntry(target) : target).href;
  let loaded: unknown;
  try {
    loaded = await import(url);
  } catch (error) {
    throw new BackendLoadError(`backend module ${specifier}: cannot import: ${(error as Error).message}`);
  }
  return defaultModule(loaded, `backend module ${specifier}`);
}

function defaultModule(loaded: unknown, what: string): ContainerModule {
  const module = (loaded as { default?: unknown }).default as ContainerModule | undefined;
  if (typeof module?.load !== 'function') throw new BackendLoadError(`${what} does not default-export a ContainerModule`);
  return module;
}

/** A package's directory, looked up in node_modules from `cwd` upwards (null: let `import` resolve it). */
function findPackage(name: string, cwd: string): string | null {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/** The ESM entry of a package directory: `exports["."]` (import/default), else `main`, else index.js. */
function packageEntry(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: unknown; main?: string };
  const root = typeof manifest.exports === 'object' && manifest.exports !== null && '.' in manifest.exports
    ? (manifest.exports as Record<string, unknown>)['.']
    : manifest.exports;
  const entry = typeof root === 'string' ? root : pick(root, ['import', 'default']) ?? manifest.main ?? 'index.js';
  return join(dir, entry);
}

function pick(conditions: unknown, names: readonly string[]): string | undefined {
  if (typeof conditions !== 'object' || conditions === null) return undefined;
  for (const name of names) {
    const value = (conditions as Record<string, unknown>)[name];
    if (typeof value === 'string') return value;
  }
  return undefined;
}
