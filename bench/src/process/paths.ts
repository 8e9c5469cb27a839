import { resolve } from 'node:path';

/** The repository's root (the bench runs from its sources there, on the host or inside the IPVS VM). */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
