import { readFileSync } from 'node:fs';
import { DryRunExecutor, type Batch } from '../backend/executor.js';

/**
 * Batches as `kplane plan` prints them (each headed by `# <tool> <args>`): the text golden files
 * hold. Compare with vitest's `await expect(renderBatches(batches)).toMatchFileSnapshot('golden/x.txt')`
 * (the path is relative to the test file; `vitest -u` rewrites the file after a deliberate change).
 */
export function renderBatches(batches: readonly Batch[]): string {
  const printer = new DryRunExecutor();
  printer.batches.push(...batches);
  return printer.render();
}

/**
 * The text of a golden file, for a test that feeds it to something rather than comparing with it
 * (e.g. applies it to a kernel). `url` is usually `new URL('./golden/x.txt', import.meta.url)`.
 */
export function readGolden(url: URL | string): string {
  return readFileSync(url, 'utf8');
}
