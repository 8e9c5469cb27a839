import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const ENTRY_POINTS = {
  '@kplane/core': 'packages/core/src/index.ts',
  '@kplane/core/testing': 'packages/core/src/testing/index.ts',
  '@kplane/core/kubernetes': 'packages/core/src/kubernetes.ts',
} as const;

/** Every name (values and types) each entry point exports, as the compiler sees them. */
function exportedNames(): Record<string, string[]> {
  const files = Object.values(ENTRY_POINTS).map((file) => resolve(ROOT, file));
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['kplane-source'],
    experimentalDecorators: true,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const names: Record<string, string[]> = {};
  for (const [entry, file] of Object.entries(ENTRY_POINTS)) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(resolve(ROOT, file))!)!;
    names[entry] = checker.getExportsOfModule(module).map((symbol) => symbol.name).sort();
  }
  return names;
}

/** The names README's "API" section lists under each `### \`entry\`` heading, one `- \`name\`` line each. */
function documentedNames(): Record<string, string[]> {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## API$/m)[1]?.split(/^## /m)[0] ?? '';
  const names: Record<string, string[]> = {};
  let entry: string | null = null;
  for (const line of section.split('\n')) {
    const heading = /^### `([^`]+)`/.exec(line);
    if (heading) names[(entry = heading[1]!)] = [];
    const item = /^- `([\w$]+)`/.exec(line);
    if (item && entry) names[entry]!.push(item[1]!);
  }
  for (const list of Object.values(names)) list.sort();
  return names;
}

describe('the public API', () => {
  it('is exactly what README\'s API section lists, entry point by entry point', () => {
    expect(documentedNames()).toEqual(exportedNames());
  });
});
