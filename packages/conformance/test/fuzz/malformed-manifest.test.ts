import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSource, createLogger } from '@kplane/core';
import { FAKE_BACKENDS } from './fake-backends.js';

/**
 * Issue 15, item 4: a malformed manifest file keeps the last good state of every object it held.
 * core's file-source.test.ts proves that the source delivers nothing for one broken edit; this
 * drives the file source into the engine and a backend's fake, through every kind of breakage
 * below, and checks that no sync writes anything (no rule is wiped, none rewritten) until a good
 * edit comes, which is then taken as usual.
 */

function service(index: number, clusterIP = `10.96.0.${index}`): string {
  return [
    'apiVersion: v1', 'kind: Service', `metadata: {name: web-${index}, namespace: default}`,
    `spec: {clusterIP: ${clusterIP}, clusterIPs: [${clusterIP}], ports: [{name: http, port: 80, targetPort: 8080}]}`,
  ].join('\n');
}

function slice(index: number): string {
  return [
    'apiVersion: discovery.k8s.io/v1', 'kind: EndpointSlice', 'addressType: IPv4',
    `metadata: {name: web-${index}-a, namespace: default, labels: {kubernetes.io/service-name: web-${index}}}`,
    `ports: [{name: http, port: 8080, protocol: TCP}]`, `endpoints: [{addresses: [10.244.1.${index}], nodeName: node-a}]`,
  ].join('\n');
}

const COUNT = 5;
const documents = (...texts: string[]) => texts.join('\n---\n');
const GOOD = documents(...Array.from({ length: COUNT }, (_, index) => [service(index + 1), slice(index + 1)]).flat());

/** Ways a file goes wrong; each must leave every object (and every rule) as the last good read had it. */
const BROKEN: readonly [string, string][] = [
  ['a YAML syntax error in one document', GOOD.replace('addressType: IPv4', 'addressType: [IPv4')],
  ['a tab where indentation goes', `${GOOD}\n---\nkind: Service\nmetadata:\n\tname: x`],
  ['a duplicated key', GOOD.replace('kind: Service', 'kind: Service\nkind: Service')],
  ['a NUL byte and binary garbage', `${GOOD}\n\u0000\u0001\u00ff\ufffe`],
  ['an unterminated quoted string', `${GOOD}\n---\nkind: "Service`],
  ['aliases that expand past any real manifest (a billion laughs)', `${GOOD}\n---\n${billionLaughs()}`],
  ['an unknown YAML tag', `${GOOD}\n---\nkind: !!binary Service`],
  ['every Service turned invalid (a cluster IP no kernel takes)', documents(...Array.from({ length: COUNT }, (_, index) => [service(index + 1, `10.96.0.${index + 1}; drop`), slice(index + 1)]).flat())],
  ['a Service and its slice given hostile fields', documents(
    GOOD, service(99, '"10.96.0.99\\n add rule ip filter input drop"').replace('web-99', 'web-99_EVIL_'), slice(99).replace('10.244.1.99', '"10.244.1.99 } ; flush ruleset"'),
  )],
];

function billionLaughs(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let level = 1; level < 9; level++) {
    const previous = String.fromCharCode(96 + level);
    const name = String.fromCharCode(97 + level);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`);
  }
  return `kind: Service\n${lines.join('\n')}`;
}

const sources: FileSource[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});

/** Waits for the source's next read of an edit (its settle delay, then the read). */
async function reread(source: FileSource): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 250));
  await source.settled();
}

describe('a malformed manifest file, read by the file source into the engine and the nft fake', () => {
  it('keeps every object and every rule through each kind of breakage, then takes the next good edit', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'kplane-fuzz-')), 'services.yaml');
    writeFileSync(path, GOOD);
    const backend = FAKE_BACKENDS.nft!();
    const source = new FileSource(path, createLogger('silent'));
    sources.push(source);
    await backend.proxy.backend.init();
    await source.start(backend.proxy.engine.handle);
    expect(await backend.proxy.engine.sync()).toBe(true);
    expect(backend.takeTexts()).not.toEqual([]);
    expect(backend.proxy.engine.desiredState.size).toBe(COUNT);

    for (const [what, text] of BROKEN) {
      writeFileSync(path, text);
      await reread(source);
      expect(await backend.proxy.engine.sync(), what).toBe(true);
      expect(backend.takeTexts(), what).toEqual([]);
      expect(backend.proxy.engine.desiredState.size, what).toBe(COUNT);
    }
    // The invalid objects were read and refused (each Service turned invalid, and the hostile one), not missed.
    const refused = (await backend.proxy.metrics.rejectedObjects.get()).values.reduce((sum, { value }) => sum + value, 0);
    expect(refused).toBeGreaterThanOrEqual(COUNT + 1);

    writeFileSync(path, documents(GOOD, service(6), slice(6)));
    await reread(source);
    expect(await backend.proxy.engine.sync()).toBe(true);
    expect(backend.takeTexts().join('\n')).toContain('10.96.0.6');
    expect(backend.proxy.engine.desiredState.size).toBe(COUNT + 1);
  }, 20_000);
});
