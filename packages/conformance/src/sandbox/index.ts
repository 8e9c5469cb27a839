/** The sandbox alone, without vitest: for programs such as the demo and the bench. */
export { NamespaceAgent, type PodAnswer, type ProbeResult } from './agent.js';
export { KplaneProcess, RecordingShims, type RecordedCall } from './kplane-process.js';
export { kplaneListing, listingDifference, udpFlowSourcePorts } from './kplane-listing.js';
export { NetnsExecutor } from './netns-executor.js';
export { rulesetSnapshot, withoutEmptyTables } from './ruleset-snapshot.js';
export { KIT_PODS, SANDBOX_NETWORK, Sandbox, type PodSpec, type SandboxPod } from './sandbox.js';
