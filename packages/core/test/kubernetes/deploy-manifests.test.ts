import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Command } from 'commander';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Pod, ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { addProxyOptions, resolveProxyOptions } from '../../src/cli/proxy-options.js';
import { readKubeProxyConfiguration } from '../../src/config/kube-proxy-configuration.js';
import { createLogger } from '../../src/index.js';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { fillCluster, startProxy } from './harness.js';

const DIRECTORY = new URL('../../../../deploy/kubernetes/', import.meta.url).pathname;
const MIGRATION = new URL('../../../../deploy/migration/', import.meta.url).pathname;

/** kubernetes-models' schema validators (types, required fields, enums), offline. */
const MODELS: Record<string, { validate(this: void, object: object): void }> = {
  DaemonSet: { validate: (object) => new DaemonSet(object as ConstructorParameters<typeof DaemonSet>[0]).validate() },
  ClusterRole: { validate: (object) => new ClusterRole(object as ConstructorParameters<typeof ClusterRole>[0]).validate() },
  ClusterRoleBinding: { validate: (object) => new ClusterRoleBinding(object as ConstructorParameters<typeof ClusterRoleBinding>[0]).validate() },
  ConfigMap: { validate: (object) => new ConfigMap(object as ConstructorParameters<typeof ConfigMap>[0]).validate() },
  ServiceAccount: { validate: (object) => new ServiceAccount(object as ConstructorParameters<typeof ServiceAccount>[0]).validate() },
  Pod: { validate: (object) => new Pod(object as ConstructorParameters<typeof Pod>[0]).validate() },
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: unknown;
}

const kustomization = parse(readFileSync(join(DIRECTORY, 'kustomization.yaml'), 'utf8')) as { resources: string[]; images: { name: string }[] };
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIRECTORY, file), 'utf8')).map((document) => document.toJS() as Manifest));
const find = <T = Manifest>(kind: string): T => manifests.find((manifest) => manifest.kind === kind) as T;

/**
 * Fields the API server does not know (kubectl's default strict field validation refuses them),
 * found with client-node's model metadata: the JSON schemas accept any extra field.
 */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || typeof value !== 'object') return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return (value as unknown[]).flatMap((item, index) => unknownFields(item, array[1]!, `${path}[${index}]`));
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value).flatMap(([key, item]) => unknownFields(item, map[1]!, `${path}.${key}`));
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>)[type];
  if (!model?.getAttributeTypeMap) return [];
  const fields = new Map(model.getAttributeTypeMap().map((attribute) => [attribute.baseName, attribute.type]));
  return Object.entries(value).flatMap(([key, item]) => (fields.has(key) ? unknownFields(item, fields.get(key)!, `${path}.${key}`) : [`${path}.${key}`]));
}

describe('deploy/kubernetes', () => {
  it('lists every manifest in its kustomization, and each is a valid object of its kind', () => {
    expect(readdirSync(DIRECTORY).filter((file) => file !== 'kustomization.yaml').sort()).toEqual([...kustomization.resources].sort());
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'ServiceAccount']);
    for (const manifest of manifests) {
      expect(() => MODELS[manifest.kind]!.validate(manifest), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
      expect(unknownFields(manifest, `V1${manifest.kind}`, manifest.kind)).toEqual([]);
    }
  });

  it('validation catches what it must: wrong types, missing fields, unknown fields', () => {
    const daemonSet = structuredClone(find('DaemonSet')) as { spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } } };
    daemonSet.spec.template.spec.containers[0]!.securityContext = { privileged: 'yes' };
    expect(() => MODELS.DaemonSet!.validate(daemonSet)).toThrow(/privileged must be boolean/);
    delete daemonSet.spec.template.spec.containers[0]!.name;
    expect(() => MODELS.DaemonSet!.validate(daemonSet)).toThrow(/must have required property name/);
    daemonSet.spec.template.spec.priorityClassNam = 'system-node-critical';
    expect(unknownFields(daemonSet, 'V1DaemonSet', 'DaemonSet')).toEqual(['DaemonSet.spec.template.spec.priorityClassNam']);
  });

  it('runs like kube-proxy: privileged on the host network, node-critical, xtables lock and modules, ready on /healthz', () => {
    const daemonSet = find<DaemonSet>('DaemonSet');
    const pod = daemonSet.spec!.template.spec!;
    const container = pod.containers[0]!;
    expect(pod).toMatchObject({ hostNetwork: true, priorityClassName: 'system-node-critical', serviceAccountName: find('ServiceAccount').metadata.name, tolerations: [{ operator: 'Exists' }] });
    expect(container.securityContext?.privileged).toBe(true);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 10256 });
    const volumes = new Map(pod.volumes!.map((volume) => [volume.name, volume]));
    const mounts = new Map(container.volumeMounts!.map((mount) => [mount.mountPath, mount]));
    expect(volumes.get(mounts.get('/run/xtables.lock')!.name)!.hostPath).toEqual({ path: '/run/xtables.lock', type: 'FileOrCreate' });
    expect(mounts.get('/run/xtables.lock')!.readOnly).toBeFalsy();
    expect(volumes.get(mounts.get('/lib/modules')!.name)!.hostPath!.path).toBe('/lib/modules');
    expect(mounts.get('/lib/modules')!.readOnly).toBe(true);
    expect(container.image).toBe(`${kustomization.images[0]!.name}:0.1.0`);
  });

  it('takes its flags from the ConfigMap, and kplane accepts them as they are', () => {
    const configMap = find<ConfigMap>('ConfigMap');
    const pod = find<DaemonSet>('DaemonSet').spec!.template.spec!;
    const container = pod.containers[0]!;
    for (const variable of container.env!.filter((entry) => entry.valueFrom?.configMapKeyRef)) {
      expect(variable.valueFrom!.configMapKeyRef!.name).toBe(configMap.metadata!.name);
      expect(configMap.data).toHaveProperty(variable.valueFrom!.configMapKeyRef!.key);
    }
    expect(pod.volumes!.find((volume) => volume.configMap)!.configMap!.name).toBe(configMap.metadata!.name);
    const directory = mkdtempSync(join(tmpdir(), 'kplane-deploy-'));
    writeFileSync(join(directory, 'config.conf'), configMap.data!['config.conf']!);
    expect(readKubeProxyConfiguration(join(directory, 'config.conf')).ignored).toEqual([]);
    const args = container.args!.map((arg) => arg.replace('/etc/kplane/', `${directory}/`).replace('$(NODE_NAME)', 'node-a'));
    expect(args[0]).toBe('run');
    const command = addProxyOptions(new Command().exitOverride()).parse(args.slice(1), { from: 'user' });
    const options = resolveProxyOptions(command, createLogger('silent'));
    expect(options).toMatchObject({ backend: 'nft', source: 'kubernetes', healthzBindAddress: '0.0.0.0:10256', kubeApiQps: 5, kubeApiBurst: 10, config: { nodeName: 'node-a' } });
  });

  it('migration pods run kube-proxy\'s --cleanup and kplane cleanup on one node, with the host access they need', () => {
    const pods = Object.fromEntries(readdirSync(MIGRATION).map((file) => [file, parse(readFileSync(join(MIGRATION, file), 'utf8')) as Pod]));
    expect(Object.keys(pods).sort()).toEqual(['kplane-cleanup.yaml', 'kube-proxy-cleanup.yaml']);
    for (const pod of Object.values(pods)) {
      expect(() => MODELS.Pod!.validate(pod)).not.toThrow();
      expect(unknownFields(pod, 'V1Pod', 'Pod')).toEqual([]);
      expect(pod.spec).toMatchObject({ nodeName: 'node-to-migrate', hostNetwork: true, restartPolicy: 'Never' });
      expect(pod.spec!.containers[0]!.securityContext?.privileged).toBe(true);
      expect(pod.spec!.containers[0]!.volumeMounts!.map((mount) => mount.mountPath).sort()).toEqual(['/lib/modules', '/run/xtables.lock']);
    }
    expect(pods['kube-proxy-cleanup.yaml']!.spec!.containers[0]!.command).toContain('--cleanup');
    expect(pods['kplane-cleanup.yaml']!.spec!.containers[0]!).toMatchObject({ image: find<DaemonSet>('DaemonSet').spec!.template.spec!.containers[0]!.image, args: ['cleanup', '--backend=nft'] });
  });

  describe('the ClusterRole', () => {
    const servers: FakeApiServer[] = [];
    afterAll(async () => {
      await Promise.all(servers.map((server) => server.stop()));
    });

    it('allows every request the agent makes, and nothing else', async () => {
      const role = find<ClusterRole>('ClusterRole');
      const binding = find<ClusterRoleBinding>('ClusterRoleBinding');
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata!.name });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: find('ServiceAccount').metadata.name, namespace: find('ServiceAccount').metadata.namespace }]);
      // The agent's requests against an API server, including an Event for a refused object.
      const server = await FakeApiServer.start();
      servers.push(server);
      fillCluster(server, 2, 1, 1);
      server.apply({ kind: 'Service', metadata: { name: 'broken' }, spec: { clusterIP: 'nonsense', ports: [{ port: 80 }] } });
      const proxy = await startProxy({ server });
      await proxy.started;
      await expect.poll(() => server.objects('Event').length).toBe(1);
      await proxy.stop();
      const made = new Set(server.requests.map((request) => `${request.resource}:${request.verb}`));
      const granted = new Set(role.rules!.flatMap((rule) => rule.resources!.flatMap((resource) => rule.verbs.map((verb) => `${resource}:${verb}`))));
      expect([...made].sort()).toEqual([...granted].sort());
    });
  });
});
