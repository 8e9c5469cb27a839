import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createLogger, type SourceEvent } from '../src/index.js';
import { FileSource } from '../src/source/file-source.js';
import type { ReadText } from '../src/source/file-source.js';
import { endpointSliceObject, serviceObject } from '../src/testing/index.js';

const sources: FileSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});

function documents(...objects: object[]): string {
  return objects.map((object) => stringify(object)).join('---\n');
}

const a = serviceObject('a', { clusterIPs: ['10.96.0.1'], ports: [{ port: 80 }] });
const b = serviceObject('b', { clusterIPs: ['10.96.0.2'], ports: [{ port: 80 }] });
const sliceA = endpointSliceObject('a', { ports: [{ port: 8080 }], endpoints: [{ ip: '10.1.0.1' }] });

async function start(text: string, readText?: ReadText, logger: Logger = createLogger('silent')) {
  const path = join(mkdtempSync(join(tmpdir(), 'kplane-file-')), 'services.yaml');
  writeFileSync(path, text);
  const batches: SourceEvent[][] = [];
  const source = new FileSource(path, logger, readText);
  sources.push(source);
  await source.start((events) => batches.push([...events]));
  const next = async (): Promise<SourceEvent[]> => {
    const seen = batches.length;
    for (let waited = 0; batches.length === seen && waited < 3000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    await source.settled();
    return batches[seen] ?? [];
  };
  return { path, batches, next, source };
}

const summary = (events: SourceEvent[]): string[] =>
  events.map((event) => (event.action === 'delete' ? `delete ${event.kind} ${event.ref}` : `upsert ${event.kind} ${(event.object as { metadata: { name: string } }).metadata.name}`));

describe('FileSource', () => {
  it('delivers every object of a multi-document file, then only the objects an edit changed', async () => {
    const { path, batches, next } = await start(documents(a, b, sliceA, { kind: 'ConfigMap', metadata: { name: 'ignored' } }));
    expect(summary(batches[0]!)).toEqual(['upsert Service a', 'upsert Service b', 'upsert EndpointSlice a-ipv4']);
    const editedB = serviceObject('b', { clusterIPs: ['10.96.0.2'], ports: [{ port: 81 }] });
    const pending = next();
    writeFileSync(path, documents(a, editedB));
    expect(summary(await pending)).toEqual(['upsert Service b', 'delete EndpointSlice default/a-ipv4']);
  });

  it('marks what it reads as manifests, which no API server has checked', async () => {
    const { path, batches, next } = await start(documents(a));
    const pending = next();
    writeFileSync(path, documents(a, b));
    expect([...batches[0]!, ...(await pending)].map((event) => event.action === 'upsert' && event.origin)).toEqual(['manifest', 'manifest']);
  });

  it('reads a v1 List as kubectl prints it', async () => {
    const { batches } = await start(stringify({ apiVersion: 'v1', kind: 'List', items: [a, sliceA] }) + '---\n' + stringify({ kind: 'ServiceList', items: [{ metadata: b.metadata, spec: b.spec }] }));
    expect(summary(batches[0]!)).toEqual(['upsert Service a', 'upsert EndpointSlice a-ipv4', 'upsert Service b']);
  });

  it('follows a file replaced by rename, as editors save', async () => {
    const { path, next } = await start(documents(a));
    for (const port of [81, 82]) {
      const pending = next();
      writeFileSync(`${path}.tmp`, documents(serviceObject('a', { clusterIPs: ['10.96.0.1'], ports: [{ port }] })));
      renameSync(`${path}.tmp`, path);
      const events = await pending;
      expect(summary(events)).toEqual(['upsert Service a']);
      expect(((events[0] as { object: { spec: { ports: { port: number }[] } } }).object.spec.ports[0]!.port)).toBe(port);
    }
  });

  it('takes an empty file for a write in progress, never for "no objects" (a truncating writer deleted every rule)', async () => {
    const { path, batches, next } = await start(documents(a, b));
    writeFileSync(path, '');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(batches).toHaveLength(1);
    const pending = next();
    writeFileSync(path, documents(a));
    expect(summary(await pending)).toEqual(['delete Service default/b']);
  });

  it('reads again after a failed read (EMFILE), with no further edit to trigger it', async () => {
    let failures = 1;
    const readText: ReadText = async (file) => {
      if (failures-- === 0) throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      return readFileSync(file, 'utf8');
    };
    const { path, next } = await start(documents(a), readText);
    const pending = next();
    writeFileSync(path, documents(a, b));
    expect(summary(await pending)).toEqual(['upsert Service b']);
  });

  it('keeps the last good state through a broken edit, and logs the line that broke it', async () => {
    const logs: { msg: string; err?: { message: string } }[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => logs.push(JSON.parse(line) as (typeof logs)[number]) });
    const { path, batches, next } = await start(documents(a, b), undefined, logger);
    writeFileSync(path, `${documents(a, b)}---\nkind: Service\n  metadata: [broken`);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(batches).toHaveLength(1);
    const line = `${documents(a, b)}---\nkind: Service\n  metadata: [broken`.split('\n').length;
    expect(logs.map((log) => `${log.msg}: ${log.err?.message}`)).toEqual([`cannot read manifests; keeping the last good state: bad indentation of a mapping entry at line ${line}, column 11:   metadata: [broken`]);
    const pending = next();
    writeFileSync(path, documents(a));
    expect(summary(await pending)).toEqual(['delete Service default/b']);
  });
});
