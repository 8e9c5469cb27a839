import { packageBuild } from '../../tsup.shared.js';

export default packageBuild(
  { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts', 'cli/main': 'src/cli/main.ts' },
  { external: [], dts: { entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' } } },
);
