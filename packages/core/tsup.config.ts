import { packageBuild } from '../../tsup.shared.js';

const libraries = { index: 'src/index.ts', kubernetes: 'src/kubernetes.ts', 'testing/index': 'src/testing/index.ts' };

export default packageBuild({ ...libraries, 'cli/main': 'src/cli/main.ts' }, { external: [], dts: { entry: libraries } });
