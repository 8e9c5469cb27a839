/**
 * One read of a manifest file by core's reader, in a fresh process as `kplane` reads it at start
 * (bundled with the CLI, see bundle.ts): `node parse-manifest.mjs FILE` prints `{ ms, objects }`.
 */
import { readFileSync } from 'node:fs';
import { parseManifests } from '@kplane/core';

const text = readFileSync(process.argv[2]!, 'utf8');
const started = performance.now();
const objects = parseManifests(text).size;
process.stdout.write(JSON.stringify({ ms: performance.now() - started, objects }));
