import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** One case of the validation corpus (cases/*.yaml): an object and what the real API server does with it. */
export interface CorpusCase {
  readonly name: string;
  /** The upstream rule mirrored: file, function, what it checks. */
  readonly rule: string;
  /** What kube-apiserver does with the object (create, or a status update for status.*). */
  readonly expect: 'accept' | 'reject';
  /** How kplane takes it where that is not simply `expect`. */
  readonly kplane?: {
    /** Ports (of a Service or a slice) kplane leaves out, keeping the rest of the object. */
    readonly skippedPorts?: number;
    /** Endpoints kplane leaves out, keeping the rest of the slice. */
    readonly skippedEndpoints?: number;
    /** What kplane does with it from an API server (a rule of style kplane does not need, checked for manifests only). */
    readonly fromApiServer?: 'accept';
  };
  readonly object: Record<string, unknown> & { readonly kind: string };
  readonly file: string;
}

export const CASES_DIR = join(import.meta.dirname, 'cases');
export const RECORDED_PATH = join(import.meta.dirname, 'recorded.json');

export function loadCorpus(): CorpusCase[] {
  return readdirSync(CASES_DIR).filter((file) => file.endsWith('.yaml')).sort().flatMap((file) => {
    const cases = parse(readFileSync(join(CASES_DIR, file), 'utf8')) as Omit<CorpusCase, 'file'>[];
    return cases.map((entry) => ({ ...entry, file }));
  });
}
