import { ContainerModule, TOKENS } from '@kplane/core';
import { JsonLinesBackend } from './jsonl-backend.js';

export { JsonLinesBackend };

/** What `--backend-module` loads: a ContainerModule that binds core's backend token. */
export default new ContainerModule(({ bind }) => {
  bind(TOKENS.Backend).to(JsonLinesBackend).inSingletonScope();
});
