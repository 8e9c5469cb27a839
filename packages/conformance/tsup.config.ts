import { packageBuild } from '../../tsup.shared.js';

export default packageBuild({ index: 'src/index.ts', 'sandbox/index': 'src/sandbox/index.ts' }, { external: ['@kplane/core', 'vitest'] });
