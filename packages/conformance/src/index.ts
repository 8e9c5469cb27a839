/** @kplane/conformance: the backend conformance kit. */
export { describeConformance, SCENARIOS } from './describe-conformance.js';
export { ConformanceHarness, type ConformanceOptions } from './harness.js';
export type { Scenario } from './scenarios/scenario.js';
export * from './sandbox/index.js';
