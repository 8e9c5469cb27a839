/** Test helpers for kplane and for plugin authors. */
export { FakeClock } from './fake-clock.js';
export { endpointSliceObject, serviceObject, type EndpointSpec, type PortSpec, type ServiceSpec, type SliceSpec } from './objects.js';
export { nextSync } from './next-sync.js';
export { remove, upsert } from './events.js';
export { readGolden, renderBatches } from './golden.js';
export { FakeExecutor, type ReadAnswer } from './fake-executor.js';
export { FakeChangeMonitor } from './fake-change-monitor.js';
export { testProxy, type TestProxyOptions } from './test-proxy.js';
export { FakeIptablesTables, type FakeIptablesTablesOptions } from './fake-iptables-tables.js';
export { validateEndpointSlice, validateService } from '../validation/validate.js';
