import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BackendLoadError, DEFAULT_CONFIG, DryRunExecutor, createLogger, createProxy, loadBackendPlugin, loadBuiltinBackend } from '../src/index.js';

const coreEntry = pathToFileURL(join(import.meta.dirname, '../src/index.ts')).href;

/** A plugin as users write them: a default-exported ContainerModule binding TOKENS.Backend. */
function writePlugin(dir: string, file: string, name: string): void {
  writeFileSync(join(dir, file), `
import { ContainerModule, TOKENS } from ${JSON.stringify(coreEntry)};
const backend = { name: ${JSON.stringify(name)}, description: 'test plugin', features: new Set(['TCP']), usesConntrack: false,
  init: async () => {}, sync: async () => {}, activeConnections: async () => new Map(), cleanup: async () => {} };
export default new ContainerModule(({ bind }) => { bind(TOKENS.Backend).toConstantValue(backend); });
`);
}

function backendName(module: Awaited<ReturnType<typeof loadBackendPlugin>>): string {
  return createProxy({ config: DEFAULT_CONFIG, executor: new DryRunExecutor(), logger: createLogger('silent') }, module).backend.name;
}

describe('backend loading', () => {
  it('loads a built-in by name', async () => {
    expect(backendName(await loadBuiltinBackend('nft'))).toBe('nft');
  });

  it('refuses an unknown built-in, listing the available ones', async () => {
    await expect(loadBuiltinBackend('ebpf')).rejects.toThrow('unknown backend "ebpf" (available: nft, iptables, ipvs');
  });

  it('loads a plugin from a file path and from a package directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kplane-plugin-'));
    writePlugin(dir, 'plugin.mjs', 'from-file');
    expect(backendName(await loadBackendPlugin('./plugin.mjs', dir))).toBe('from-file');
    const pkg = join(dir, 'my-backend');
    mkdirSync(join(pkg, 'lib'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'my-backend', type: 'module', exports: { '.': { import: './lib/main.js' } } }));
    writePlugin(join(pkg, 'lib'), 'main.js', 'from-package');
    expect(backendName(await loadBackendPlugin('./my-backend', dir))).toBe('from-package');
  });

  it('loads a plugin by package name, resolved from the working directory', async () => {
    // Inside the repository so that the plugin resolves inversify like an installed package would.
    const cache = join(import.meta.dirname, '../../../node_modules/.cache');
    mkdirSync(cache, { recursive: true });
    const cwd = mkdtempSync(join(cache, 'kplane-plugin-'));
    const named = join(cwd, 'node_modules', 'kplane-backend-named');
    mkdirSync(named, { recursive: true });
    writeFileSync(join(named, 'package.json'), JSON.stringify({ name: 'kplane-backend-named', type: 'module', main: 'index.js' }));
    writeFileSync(join(named, 'index.js'), `
import { ContainerModule } from 'inversify';
const backend = { name: 'from-name', description: 'test plugin', features: new Set(['TCP']), usesConntrack: false,
  init: async () => {}, sync: async () => {}, activeConnections: async () => new Map(), cleanup: async () => {} };
export default new ContainerModule(({ bind }) => { bind(Symbol.for('kplane.DataplaneBackend')).toConstantValue(backend); });
`);
    expect(backendName(await loadBackendPlugin('kplane-backend-named', cwd))).toBe('from-name');
  });

  it('explains what is wrong with a bad plugin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kplane-plugin-'));
    writeFileSync(join(dir, 'empty.mjs'), 'export const nothing = 1;\n');
    await expect(loadBackendPlugin('./empty.mjs', dir)).rejects.toThrow('does not default-export a ContainerModule');
    await expect(loadBackendPlugin('./missing.mjs', dir)).rejects.toThrow(BackendLoadError);
  });
});
