import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ManifestReader, parseManifests } from '../src/source/manifests.js';
import { endpointSliceObject, serviceObject } from '../src/testing/index.js';

const names = ['s0', 's1', 's2', 's3', 's4'];
const services = names.map((name, i) => serviceObject(name, { clusterIPs: [`10.96.0.${i + 1}`], ports: [{ port: 80 }] }));
const slice = endpointSliceObject('s0', { ports: [{ port: 8080 }], endpoints: [{ ip: '10.1.0.1' }] });
const movedSlice = endpointSliceObject('s0', { ports: [{ port: 8080 }], endpoints: [{ ip: '10.1.0.2' }] });

const yamlText = (...objects: object[]): string => objects.map((object) => stringify(object)).join('---\n');
const keyOf = (entry: { key: string }): string => entry.key;
const jsonText = (...objects: object[]): string => `${objects.map((object) => JSON.stringify(object)).join('\n---\n')}\n`;

describe('ManifestReader', () => {
  it('yields every object first, then only what an edit changed', () => {
    const reader = new ManifestReader();
    expect(reader.update(yamlText(...services, slice)).upserts.map(keyOf)).toEqual([...names.map((name) => `Service:default/${name}`), 'EndpointSlice:default/s0-ipv4']);
    const edit = reader.update(yamlText(...services.slice(1), movedSlice));
    expect(edit.upserts.map((entry) => entry.object)).toEqual([movedSlice]);
    expect(edit.deletes.map(keyOf)).toEqual(['Service:default/s0']);
    expect(reader.update(yamlText(...services.slice(1), movedSlice))).toEqual({ upserts: [], deletes: [] });
  });

  it('yields an object whose document is unchanged when a later duplicate of it goes', () => {
    const reader = new ManifestReader();
    const edited = serviceObject('s0', { clusterIPs: ['10.96.0.1'], ports: [{ port: 81 }] });
    expect(reader.update(yamlText(services[0]!, edited)).upserts.map((entry) => entry.object)).toEqual([edited]);
    expect(reader.update(yamlText(services[0]!)).upserts.map((entry) => entry.object)).toEqual([services[0]]);
  });

  it('reads JSON documents as the YAML they also are, and flow YAML that is not JSON', () => {
    const fromJson = parseManifests(jsonText(services[0]!, slice));
    const fromYaml = parseManifests(yamlText(services[0]!, slice));
    expect([...fromJson.values()].map((entry) => entry.object)).toEqual([...fromYaml.values()].map((entry) => entry.object));
    expect([...fromJson.values()].map((entry) => entry.fingerprint)).toEqual([...fromYaml.values()].map((entry) => entry.fingerprint));
    const flow = parseManifests('{kind: Service, apiVersion: v1, metadata: {name: flow}, spec: {clusterIP: 10.96.0.9}}\n');
    expect(flow.get('Service:default/flow')!.object).toMatchObject({ spec: { clusterIP: '10.96.0.9' } });
  });

  it('keeps a text with directives in one piece', () => {
    const text = `%YAML 1.2\n---\n${stringify(services[0])}---\n${stringify(services[1])}`;
    expect([...parseManifests(text).keys()]).toEqual(['Service:default/s0', 'Service:default/s1']);
  });

  it('names the line and column of a syntax error in the whole text, not in its document', () => {
    const text = `${yamlText(...services)}---\nkind: Service\n  metadata: [broken\n`;
    const line = text.split('\n').indexOf('  metadata: [broken') + 1;
    expect(() => parseManifests(text)).toThrow(`at line ${line}, column 11:   metadata: [broken`);
  });

  it('reads YAML 1.2 core scalars: no dates, no yes/no booleans', () => {
    const text = 'kind: Service\nmetadata:\n  name: s\n  annotations: {created: 2024-01-01, enabled: yes, count: 0x10}\n';
    expect(parseManifests(text).get('Service:default/s')!.object).toMatchObject({ metadata: { annotations: { created: '2024-01-01', enabled: 'yes', count: 16 } } });
  });

  it('reads anchors and aliases, and refuses a document whose aliases expand without bound (a "billion laughs")', () => {
    const shared = 'kind: Service\nmetadata:\n  name: s\n  labels: &labels {app: web, tier: front}\n  annotations: *labels\n';
    expect(parseManifests(shared).get('Service:default/s')!.object).toMatchObject({ metadata: { annotations: { app: 'web', tier: 'front' } } });
    let laughs = '---\nkind: Service\nmetadata: {name: bomb}\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let level = 1; level <= 9; level++) laughs += `l${level}: &l${level} [${Array<string>(9).fill(`*l${level - 1}`).join(', ')}]\n`;
    const line = yamlText(services[0]!).split('\n').length;
    expect(() => parseManifests(`${yamlText(services[0]!)}${laughs}`)).toThrow(new RegExp(`^aliases expand the YAML from line ${line} past \\d+ values`));
  });

  it('throws on a broken edit and keeps the last good state', () => {
    const reader = new ManifestReader();
    reader.update(yamlText(...services));
    expect(() => reader.update(`${yamlText(...services.slice(1))}---\nkind: [unclosed\n`)).toThrow();
    expect(reader.update(yamlText(...services))).toEqual({ upserts: [], deletes: [] });
  });
});
