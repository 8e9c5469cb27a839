/** @kplane/conformance: the backend conformance kit. */
export { describeConformance, SCENARIOS } from './describe-conformance.js';
export { ConformanceHarness, type ConformanceOptions } from './harness.js';
export { NamespaceAgent, type PodAnswer, type ProbeResult } from './sandbox/agent.js';
export { NetnsExecutor } from './sandbox/netns-executor.js';
export { rulesetSnapshot } from './sandbox/ruleset-snapshot.js';
export { POD_PORTS, SANDBOX_NETWORK, Sandbox, type SandboxPod } from './sandbox/sandbox.js';
export type { Scenario } from './scenarios/scenario.js';
