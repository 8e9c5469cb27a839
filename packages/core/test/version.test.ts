import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';
import { engineHarness } from './support/engine-harness.js';

const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('version', () => {
  it('is the package\'s, in kplane_build_info too', async () => {
    expect(VERSION).toBe(packageVersion);
    const { metrics } = engineHarness();
    expect(await metrics.registry.getSingleMetricAsString('kplane_build_info')).toContain(`version="${packageVersion}"`);
  });
});
