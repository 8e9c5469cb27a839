#!/usr/bin/env node
// Seed 000's baseline, run inside a namespace of its own: `ipset add` exec'd once per entry (as
// kube-router did) against one `ipset restore` of every entry. Reads {entries, perEntry} as JSON on
// stdin, prints the times as JSON.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const { entries, perEntry } = JSON.parse(readFileSync(0, 'utf8'));
const create = (name) => `create ${name} hash:ip,port maxelem ${Math.max(65536, 2 * entries.length)}`;

execFileSync('ipset', ['restore'], { input: `${create('kpb-each')}\n` });
let started = performance.now();
for (const entry of entries.slice(0, perEntry)) execFileSync('ipset', ['add', 'kpb-each', entry]);
const perEntryMs = performance.now() - started;

const input = `${[create('kpb-all'), ...entries.map((entry) => `add kpb-all ${entry}`)].join('\n')}\n`;
started = performance.now();
execFileSync('ipset', ['restore'], { input, maxBuffer: 1 << 26 });
const restoreMs = performance.now() - started;

execFileSync('ipset', ['destroy', 'kpb-each']);
execFileSync('ipset', ['destroy', 'kpb-all']);
process.stdout.write(`${JSON.stringify({ perEntryMs, restoreMs })}\n`);
