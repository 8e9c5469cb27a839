import { ContainerModule, TOKENS, type Executor, type ProxyConfig } from '@kplane/core';
import { ExecJsonlClient } from './client/exec-client.js';
import { JSONL_CLIENT, JsonLinesBackend } from './jsonl-backend.js';
import { jsonlFile } from './options.js';

export { JSONL_CLIENT, JsonLinesBackend } from './jsonl-backend.js';
export type { JsonlClient } from './client/client.js';
export { ExecJsonlClient } from './client/exec-client.js';
export { FakeJsonlClient } from './client/fake-client.js';
export { planLines } from './planner/plan.js';

/** What `--backend-module` loads: binds core's backend token, and the client to the real one (rebind JSONL_CLIENT in tests). */
export default new ContainerModule(({ bind }) => {
  bind(JSONL_CLIENT).toDynamicValue(({ get }) => new ExecJsonlClient(get<Executor>(TOKENS.Executor), jsonlFile(get<ProxyConfig>(TOKENS.Config)))).inSingletonScope();
  bind(TOKENS.Backend).to(JsonLinesBackend).inSingletonScope();
});
