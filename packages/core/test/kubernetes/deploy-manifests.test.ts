import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { Command } from 'commander';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { addProxyOptions, resolveProxyOptions } from '../../src/cli/proxy-options.js';
import { readKubeProxyConfiguration } from '../../src/config/kube-proxy-configuration.js';
import { createLogger } from '../../src/index.js';
import { FakeApiServer } from '../support/fake-api-server/index.js';
import { fillCluster, startProxy } from './harness.js';

const DIRECTORY = new URL('../../../../deploy/kubernetes/', import.meta.url).pathname;
const MIGRATION = new URL('../../../../deploy/migration/', import.meta.url).pathname;
const OVERLAYS = new URL('../../../../deploy/overlays/', import.meta.url).pathname;
const MONITORING = new URL('../../../../deploy/monitoring/', import.meta.url).pathname;
const RESULTS = new URL('../../../../bench/RESULTS.md', import.meta.url).pathname;

/** kubernetes-models' schema validators (types, required fields, enums), offline. */
const MODELS: Record<string, { validate(this: void, object: object): void }> = {
  DaemonSet: { validate: (object) => new DaemonSet(object as ConstructorParameters<typeof DaemonSet>[0]).validate() },
  ClusterRole: { validate: (object) => new ClusterRole(object as ConstructorParameters<typeof ClusterRole>[0]).validate() },
  ClusterRoleBinding: { validate: (object) => new ClusterRoleBinding(object as ConstructorParameters<typeof ClusterRoleBinding>[0]).validate() },
  ConfigMap: { validate: (object) => new ConfigMap(object as ConstructorParameters<typeof ConfigMap>[0]).validate() },
  ServiceAccount: { validate: (object) => new ServiceAccount(object as ConstructorParameters<typeof ServiceAccount>[0]).validate() },
  Pod: { validate: (object) => new Pod(object as ConstructorParameters<typeof Pod>[0]).validate() },
  Service: { validate: (object) => new Service(object as ConstructorParameters<typeof Service>[0]).validate() },
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
/** The first object of `kind` among `objects` (the base's by default). */
const find = <T = Manifest>(kind: string, objects: readonly Manifest[] = manifests): T => objects.find((manifest) => manifest.kind === kind) as T;

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

const installed = (tool: string, args: string[]): boolean => spawnSync(tool, args, { stdio: 'ignore' }).status === 0;
let kustomize: readonly [string, string] | undefined;

/**
 * kustomize: the one on PATH, else kubectl's built-in one. Never built here: `npm test` runs no Go
 * (scripts/kustomize/build.sh builds one for a machine that has neither; put it on PATH).
 */
function kustomizeCommand(): readonly [string, string] {
  kustomize ??= installed('kustomize', ['version']) ? ['kustomize', 'build']
    : installed('kubectl', ['version', '--client']) ? ['kubectl', 'kustomize']
    : fail('the deploy tests render every overlay with kustomize: neither kustomize nor kubectl is on PATH (scripts/kustomize/build.sh builds kustomize from its Go module)');
  return kustomize;
}

function fail(message: string): never {
  throw new Error(message);
}

/** The objects a kustomization renders to. */
function render(directory: string): Manifest[] {
  const [tool, command] = kustomizeCommand();
  const text = execFileSync(tool, [command, directory], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(text).map((document) => document.toJS() as Manifest);
}

function validKubernetesObject(manifest: Manifest): void {
  expect(MODELS[manifest.kind], `a schema for ${manifest.kind}`).toBeDefined();
  expect(() => MODELS[manifest.kind]!.validate(manifest), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
  expect(unknownFields(manifest, `V1${manifest.kind}`, manifest.kind)).toEqual([]);
}

/** MiB in a quantity such as 256Mi. */
function mebibytes(quantity: string): number {
  const match = /^(\d+)Mi$/.exec(quantity);
  if (!match) throw new Error(`memory ${quantity}: expected NNNMi`);
  return Number(match[1]);
}

/**
 * The agent's peak RSS per backend in bench/RESULTS.md at the largest number of Services measured for it
 * (the highest of its rows there: iptables has four layouts and modes).
 */
function measuredPeaks(): Map<string, { services: number; peakMB: number }> {
  const peaks = new Map<string, { services: number; peakMB: number }>();
  let services = 0;
  for (const line of readFileSync(RESULTS, 'utf8').split('\n')) {
    const heading = /^### ([\d,]+) services/.exec(line);
    if (heading) services = Number(heading[1]!.replaceAll(',', ''));
    const row = /^\| (nft|iptables|ipvs)\b[^|]*\|(?:[^|]*\|){3} \d+ → \d+ \/ (\d+) \|/.exec(line);
    if (!row) continue;
    const backend = row[1]!;
    const peakMB = Number(row[2]);
    const known = peaks.get(backend);
    if (!known || services > known.services || (services === known.services && peakMB > known.peakMB)) peaks.set(backend, { services, peakMB });
  }
  return peaks;
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

  it('declares its metrics and healthz ports, the ones its configuration listens on', () => {
    const container = find<DaemonSet>('DaemonSet').spec!.template.spec!.containers[0]!;
    expect(container.ports).toEqual([{ name: 'metrics', containerPort: 10249, protocol: 'TCP' }, { name: 'healthz', containerPort: 10256, protocol: 'TCP' }]);
    const config = parse(find<ConfigMap>('ConfigMap').data!['config.conf']!) as { metricsBindAddress: string; healthzBindAddress: string };
    expect(config.metricsBindAddress.split(':').at(-1)).toBe('10249');
    expect(config.healthzBindAddress.split(':').at(-1)).toBe('10256');
  });

  describe('the backend overlays (deploy/overlays)', () => {
    const peaks = measuredPeaks();
    const overlays = readdirSync(OVERLAYS).sort();

    it('exist for nft, iptables and ipvs, and bench/RESULTS.md has a peak for each', () => {
      expect(overlays).toEqual(['iptables', 'ipvs', 'nft']);
      for (const backend of overlays) expect(peaks.get(backend), backend).toBeDefined();
    });

    it.each(overlays)('%s renders to valid objects that run that backend, with a memory request from the bench\'s peak', (backend) => {
      const rendered = render(join(OVERLAYS, backend));
      expect(rendered.map((manifest) => manifest.kind).sort()).toEqual(manifests.map((manifest) => manifest.kind).sort());
      for (const manifest of rendered) validKubernetesObject(manifest);
      const configMap = find<ConfigMap>('ConfigMap', rendered);
      const directory = mkdtempSync(join(tmpdir(), 'kplane-overlay-'));
      writeFileSync(join(directory, 'config.conf'), configMap.data!['config.conf']!);
      const config = readKubeProxyConfiguration(join(directory, 'config.conf'));
      expect(config.mode.backend).toBe(backend);
      expect(config.ignored).toEqual([]);
      // The API server's address stays where the DaemonSet reads it.
      expect(Object.keys(configMap.data!).sort()).toEqual(Object.keys(find<ConfigMap>('ConfigMap').data!).sort());
      const pod = find<DaemonSet>('DaemonSet', rendered).spec!.template.spec!;
      expect(pod.volumes!.find((volume) => volume.configMap)!.configMap!.name).toBe(configMap.metadata!.name);
      const memory = mebibytes(pod.containers[0]!.resources!.requests!.memory as string);
      const { services, peakMB } = peaks.get(backend)!;
      expect(memory, `${backend}: request vs the ${peakMB} MB peak at ${services} Services`).toBeGreaterThanOrEqual(peakMB);
      if (services === 20_000) expect(memory).toBeLessThanOrEqual(peakMB * 1.25);
    });

    it('a broken overlay does not render (a patch of a path the base lacks, a missing resource)', () => {
      const base = mkdtempSync(join(tmpdir(), 'kplane-broken-'));
      cpSync(join(OVERLAYS, '..'), base, { recursive: true });
      const overlay = join(base, 'overlays/iptables/kustomization.yaml');
      const text = readFileSync(overlay, 'utf8');
      writeFileSync(overlay, text.replace('/spec/template/spec/containers/0/resources/requests/memory', '/spec/template/spec/containers/3/resources/requests/memory'));
      expect(() => render(join(base, 'overlays/iptables'))).toThrow();
      writeFileSync(overlay, text.replace('../../kubernetes', '../../kubernetes-missing'));
      expect(() => render(join(base, 'overlays/iptables'))).toThrow();
    });
  });

  describe('monitoring (deploy/monitoring)', () => {
    let rendered: Manifest[] = [];
    // Rendered in the tests, so that the other deploy tests run on a machine without kustomize or kubectl.
    beforeAll(() => {
      rendered = render(MONITORING);
    }, 900_000);
    const of = <T>(kind: string) => find<T>(kind, rendered);

    it('renders a Service, a ServiceMonitor, a PrometheusRule and the dashboard\'s ConfigMap', () => {
      expect(rendered.map((manifest) => manifest.kind).sort()).toEqual(['ConfigMap', 'PrometheusRule', 'Service', 'ServiceMonitor']);
      for (const manifest of rendered.filter((object) => MODELS[object.kind])) validKubernetesObject(manifest);
      for (const manifest of rendered.filter((object) => !MODELS[object.kind])) {
        expect(manifest.apiVersion).toBe('monitoring.coreos.com/v1');
        expect(manifest.metadata.namespace).toBe('kube-system');
      }
    });

    it('scrapes the DaemonSet\'s metrics port: Service selects its pods, ServiceMonitor selects the Service', () => {
      const template = find<DaemonSet>('DaemonSet').spec!.template;
      const service = of<Service>('Service');
      expect(service.spec!.clusterIP).toBe('None');
      expect(Object.entries(service.spec!.selector!).every(([key, wanted]) => template.metadata!.labels![key] === wanted)).toBe(true);
      expect(service.spec!.ports).toEqual([{ name: 'metrics', port: 10249, targetPort: 'metrics', protocol: 'TCP' }]);
      expect(template.spec!.containers[0]!.ports!.map((port) => port.name)).toContain('metrics');
      const monitor = of<Manifest & { spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: { port: string; path: string }[] } }>('ServiceMonitor');
      expect(Object.entries(monitor.spec.selector.matchLabels).every(([key, wanted]) => service.metadata!.labels![key] === wanted)).toBe(true);
      expect(monitor.spec.namespaceSelector.matchNames).toEqual([service.metadata!.namespace]);
      expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    });

    it('alerts on failing syncs, slow programming, partial failures and rejected objects, each with a severity and a summary', () => {
      const rule = of<Manifest & { spec: { groups: { name: string; rules: { alert: string; expr: string; labels: { severity: string }; annotations: Record<string, string> }[] }[] } }>('PrometheusRule');
      const rules = rule.spec.groups.flatMap((group) => group.rules);
      expect(rules.map((entry) => entry.alert)).toEqual(['KplaneSyncsFailing', 'KplaneNetworkProgrammingLatencyHigh', 'KplanePartialSyncFailures', 'KplaneRejectedObjectsRising']);
      for (const entry of rules) {
        expect(['critical', 'warning', 'info']).toContain(entry.labels.severity);
        expect(entry.annotations.summary).toBeTruthy();
        expect(entry.expr.split('(').length).toBe(entry.expr.split(')').length);
      }
    });

    it('ships the Grafana dashboard for the dashboard sidecar, byte for byte', () => {
      const configMap = of<ConfigMap>('ConfigMap');
      expect(configMap.metadata!.labels).toMatchObject({ grafana_dashboard: '1' });
      expect(configMap.data!['grafana-dashboard.json']).toBe(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8'));
      const dashboard = JSON.parse(configMap.data!['grafana-dashboard.json']!) as { uid: string; panels: { id: number; title: string; targets: { expr: string }[] }[] };
      expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
      const titles = dashboard.panels.map((panel) => panel.title);
      for (const wanted of ['Sync latency', 'Network programming latency', 'Rejected objects', 'Skipped Service ports and endpoints', 'Sync failures', 'Traffic per Service: packets', 'Traffic per Service: bytes']) expect(titles).toContain(wanted);
    });
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
