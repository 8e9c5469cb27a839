/** @kplane/conformance: the backend conformance kit. */
export { NamespaceAgent, type PodAnswer, type ProbeResult } from './sandbox/agent.js';
export { NetnsExecutor } from './sandbox/netns-executor.js';
export { POD_PORTS, SANDBOX_NETWORK, Sandbox, type SandboxPod } from './sandbox/sandbox.js';
