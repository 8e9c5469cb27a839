import type { Feature } from '@kplane/core';
import type { ConformanceHarness } from '../harness.js';
import type { Sandbox } from '../sandbox/sandbox.js';

/** One behaviour the kit checks with real traffic. */
export interface Scenario {
  readonly title: string;
  /** The Service features it needs: a backend lacking one must refuse `objects` instead. */
  readonly features: readonly Feature[];
  /** The API objects the scenario starts from. */
  readonly objects: (sandbox: Sandbox) => Record<string, unknown>[];
  readonly run: (harness: ConformanceHarness) => Promise<void>;
}
