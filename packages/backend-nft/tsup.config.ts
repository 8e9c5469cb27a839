import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: true,
  target: 'node20',
  sourcemap: true,
  clean: true,
  external: ['@kplane/core'],
});
