import { DEFAULT_CONFIG, DryRunExecutor, createLogger, createProxy, type Feature } from '@kplane/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConformanceHarness, type ConformanceOptions } from './harness.js';
import { affinityScenarios } from './scenarios/affinity.js';
import { clusterIPScenarios } from './scenarios/cluster-ip.js';
import { endpointScenarios } from './scenarios/endpoints.js';
import { externalScenarios } from './scenarios/external.js';
import { lifecycleScenarios } from './scenarios/lifecycle.js';
import type { Scenario } from './scenarios/scenario.js';
import { serviceCIDRScenarios } from './scenarios/service-cidr.js';

/** Every scenario, in the order they run (lifecycle last: it restarts the agent and cleans up). */
export const SCENARIOS: readonly Scenario[] = [...clusterIPScenarios, ...serviceCIDRScenarios, ...externalScenarios, ...endpointScenarios, ...affinityScenarios, ...lifecycleScenarios];

/**
 * Registers the conformance suite for one backend in the calling vitest file. Needs root (it
 * builds network namespaces). For a feature the backend does not declare, the scenario instead
 * checks that core leaves out the parts that need it, with a warning and a count, rather than
 * proxying them wrongly.
 */
export function describeConformance(options: ConformanceOptions): void {
  const features = declaredFeatures(options);
  describe(`conformance: ${options.name}`, () => {
    let harness: ConformanceHarness;
    beforeAll(async () => {
      harness = await ConformanceHarness.start(options);
    }, 120_000);
    afterAll(async () => {
      await harness?.stop();
    });
    for (const scenario of SCENARIOS) {
      const missing = scenario.features.filter((feature) => !features.has(feature));
      if (missing.length === 0) {
        it(scenario.title, () => scenario.run(harness), 180_000);
      } else {
        it(`${scenario.title} — left out, "${options.name}" lacks ${missing.join(', ')}`, async () => {
          const before = await harness.unsupportedParts();
          await harness.apply(scenario.objects(harness.sandbox));
          expect(await harness.unsupportedParts()).toBeGreaterThan(before);
        });
      }
    }
  });
}

function declaredFeatures(options: ConformanceOptions): ReadonlySet<Feature> {
  const config = { ...DEFAULT_CONFIG, backendOptions: new Map(Object.entries(options.backendOptions ?? {})) };
  return createProxy({ config, executor: new DryRunExecutor(), logger: createLogger('silent') }, options.backend).backend.features;
}
