import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateEndpointSlice, validateService, type ObjectOrigin, type SkippedPart } from '../../src/validation/validate.js';
import { loadCorpus, RECORDED_PATH, type CorpusCase } from './corpus.js';

/**
 * Replays the corpus against kplane's validation: as a manifest, kplane takes exactly what the API
 * server takes (leaving out only the parts a case names); from an API server, it takes at least that.
 */
const corpus = loadCorpus();

/** What kplane made of an object: refused, or taken with some parts left out. */
type Outcome = { readonly taken: false } | { readonly taken: true; readonly skippedPorts: number; readonly skippedEndpoints: number };

function outcome(entry: CorpusCase, origin: ObjectOrigin): Outcome & { readonly why?: string } {
  const result = entry.object.kind === 'Service' ? validateService(entry.object, origin) : validateEndpointSlice(entry.object, origin);
  if (!result.ok) return { taken: false, why: result.error.message };
  const skipped: readonly SkippedPart[] = result.value.skipped;
  return {
    taken: true,
    skippedPorts: skipped.filter((part) => !part.field.startsWith('endpoints')).length,
    skippedEndpoints: skipped.filter((part) => part.field.startsWith('endpoints')).length,
  };
}

function expected(entry: CorpusCase, origin: ObjectOrigin): Outcome {
  const skippedPorts = entry.kplane?.skippedPorts ?? 0;
  const skippedEndpoints = entry.kplane?.skippedEndpoints ?? 0;
  const takenAnyway = (origin === 'api-server' && entry.kplane?.fromApiServer === 'accept') || skippedPorts > 0 || skippedEndpoints > 0;
  return entry.expect === 'accept' || takenAnyway ? { taken: true, skippedPorts, skippedEndpoints } : { taken: false };
}

describe('validation corpus', () => {
  it('has at least 120 well-formed cases with unique names, each naming its upstream rule', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(120);
    expect(new Set(corpus.map((entry) => entry.name)).size).toBe(corpus.length);
    for (const entry of corpus) {
      expect(entry.name, entry.file).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(entry.rule, entry.name).toMatch(/validation\.go|defaults\.go|types\.go|strategy\.go|alloc\.go|rest\.go/);
      expect(['accept', 'reject'], entry.name).toContain(entry.expect);
      expect(['Service', 'EndpointSlice'], entry.name).toContain(entry.object.kind);
      expect(Object.keys(entry.kplane ?? {}).every((key) => ['skippedPorts', 'skippedEndpoints', 'fromApiServer'].includes(key)), entry.name).toBe(true);
      // Only what the API server refuses may be taken anyway from an API server.
      if (entry.kplane?.fromApiServer) expect(entry.expect, entry.name).toBe('reject');
    }
    expect(corpus.filter((entry) => entry.expect === 'accept').length).toBeGreaterThan(40);
    expect(corpus.filter((entry) => entry.expect === 'reject').length).toBeGreaterThan(40);
  });

  it('matches the recordings of a real kube-apiserver, once there are any', () => {
    if (!existsSync(RECORDED_PATH)) return;
    const recorded = JSON.parse(readFileSync(RECORDED_PATH, 'utf8')) as { cases: Record<string, { accepted: boolean; message?: string }> };
    for (const entry of corpus) {
      const recording = recorded.cases[entry.name];
      expect(recording, `${entry.name} has no recording`).toBeDefined();
      expect(recording!.accepted ? 'accept' : 'reject', `${entry.name}: ${recording!.message ?? ''}`).toBe(entry.expect);
    }
  });

  it.each(corpus.map((entry) => [entry.name, entry] as const))('takes %s as a manifest exactly as the API server does', (_, entry) => {
    const { why, ...actual } = outcome(entry, 'manifest');
    expect(actual, `${entry.rule}${why ? ` (kplane: ${why})` : ''}`).toEqual(expected(entry, 'manifest'));
  });

  it.each(corpus.map((entry) => [entry.name, entry] as const))('takes %s from an API server, never more strictly', (_, entry) => {
    const { why, ...actual } = outcome(entry, 'api-server');
    expect(actual, `${entry.rule}${why ? ` (kplane: ${why})` : ''}`).toEqual(expected(entry, 'api-server'));
  });
});
