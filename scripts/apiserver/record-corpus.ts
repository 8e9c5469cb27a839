/**
 * Records the real kube-apiserver's verdict on every case of the validation corpus into
 * recorded.json, which `npm test` replays against kplane's validation.
 *
 *   npx tsx scripts/apiserver/record-corpus.ts --kubeconfig FILE [--cases DIR] [--out FILE]
 *
 * Each object is created for real (defaulting, validation, admission, and the ClusterIP and
 * node-port allocators), then deleted again, one case at a time. Create drops `status`, so a case
 * with a status has it written by a dry-run PUT to the /status subresource, where the API server
 * validates it, before the delete.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

interface CorpusCase {
  readonly name: string;
  readonly expect: 'accept' | 'reject';
  readonly object: ApiObject;
}

interface ApiObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  status?: Record<string, unknown>;
  [field: string]: unknown;
}

type Verdict = { accepted: true } | { accepted: false; message: string };

interface Response {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** REST resources of the kinds a corpus case may hold: plural, whether namespaced, whether it has /status. */
const RESOURCES: Record<string, { plural: string; namespaced: boolean; statusSubresource: boolean }> = {
  Service: { plural: 'services', namespaced: true, statusSubresource: true },
  EndpointSlice: { plural: 'endpointslices', namespaced: true, statusSubresource: false },
  Endpoints: { plural: 'endpoints', namespaced: true, statusSubresource: false },
  Node: { plural: 'nodes', namespaced: false, statusSubresource: true },
  Namespace: { plural: 'namespaces', namespaced: false, statusSubresource: true },
  ServiceCIDR: { plural: 'servicecidrs', namespaced: false, statusSubresource: true },
};

const DEFAULT_CASES = 'packages/core/test/validation-corpus/cases';
const DEFAULT_OUT = 'packages/core/test/validation-corpus/recorded.json';

class ApiClient {
  private readonly server: URL;
  private readonly ca: Buffer | undefined;
  private readonly token: string | undefined;

  constructor(kubeconfigPath: string) {
    const config = new KubeConfig();
    config.loadFromFile(kubeconfigPath);
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error(`${kubeconfigPath}: no current cluster`);
    this.server = new URL(cluster.server);
    this.ca = cluster.caFile ? readFileSync(cluster.caFile) : cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined;
    this.token = config.getCurrentUser()?.token;
  }

  send(method: string, path: string, body?: unknown): Promise<Response> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((done, fail) => {
      const outgoing = request(new URL(path, this.server), {
        method,
        ca: this.ca,
        headers: {
          accept: 'application/json',
          ...(payload !== undefined && { 'content-type': 'application/json' }),
          ...(this.token && { authorization: `Bearer ${this.token}` }),
        },
      }, (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: Record<string, unknown>;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = { message: text };
          }
          done({ status: incoming.statusCode ?? 0, body: parsed });
        });
      });
      outgoing.on('error', fail);
      outgoing.end(payload);
    });
  }
}

function collectionPath(object: ApiObject): string {
  const resource = RESOURCES[object.kind];
  if (!resource) throw new Error(`kind ${object.kind} has no REST mapping in the recorder; add it to RESOURCES`);
  const prefix = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  const namespace = object.metadata?.namespace ?? 'default';
  return resource.namespaced ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${resource.plural}` : `${prefix}/${resource.plural}`;
}

function objectPath(object: ApiObject): string {
  return `${collectionPath(object)}/${encodeURIComponent(object.metadata?.name ?? '')}`;
}

/** A refused request's verdict; anything that is not the API server judging the object stops the run. */
function refusal(response: Response, caseName: string, step: string): Verdict {
  // 400 Bad Request (undecodable), 404 (unknown namespace), 409 (conflict), 422 Invalid, 403 Forbidden by admission.
  if (response.status >= 500 || response.status === 0 || response.status === 401) {
    throw new Error(`${caseName}: ${step} got HTTP ${response.status}: ${String(response.body.message ?? '')}`);
  }
  return { accepted: false, message: String(response.body.message ?? `HTTP ${response.status}`) };
}

const ok = (response: Response) => response.status >= 200 && response.status < 300;

async function verdictOf(api: ApiClient, testCase: CorpusCase): Promise<Verdict> {
  const { status, ...withoutStatus } = testCase.object;
  const withStatus = status !== undefined && Object.keys(status).length > 0 && RESOURCES[testCase.object.kind]?.statusSubresource === true;
  // A real create, not a dry run: in dry run the node-port allocator only checks that a port is
  // free, not that it is in range, so `nodePort: 70000` would pass.
  const created = await api.send('POST', collectionPath(testCase.object), withStatus ? withoutStatus : testCase.object);
  if (!ok(created)) return refusal(created, testCase.name, 'create');
  // Create drops status: it is validated on the /status subresource.
  const updated = withStatus
    ? await api.send('PUT', `${objectPath(created.body as unknown as ApiObject)}/status?dryRun=All`, { ...created.body, status })
    : created;
  const deleted = await api.send('DELETE', objectPath(created.body as unknown as ApiObject));
  if (!ok(deleted)) throw new Error(`${testCase.name}: could not delete the object it created (HTTP ${deleted.status})`);
  return ok(updated) ? { accepted: true } : refusal(updated, testCase.name, 'status update');
}

function readCases(folder: string): CorpusCase[] {
  const cases: CorpusCase[] = [];
  const seen = new Set<string>();
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.yaml')).sort()) {
    const parsed: unknown = parse(readFileSync(join(folder, file), 'utf8'));
    if (!Array.isArray(parsed)) throw new Error(`${file}: expected a YAML list of cases`);
    for (const entry of parsed as Partial<CorpusCase>[]) {
      if (typeof entry.name !== 'string' || !entry.object || (entry.expect !== 'accept' && entry.expect !== 'reject')) {
        throw new Error(`${file}: a case without name, expect (accept|reject) or object: ${JSON.stringify(entry).slice(0, 200)}`);
      }
      if (seen.has(entry.name)) throw new Error(`${file}: case name ${entry.name} is used twice`);
      seen.add(entry.name);
      cases.push(entry as CorpusCase);
    }
  }
  return cases;
}

/** Namespaces the cases live in, made first so that a verdict is about the object, not a missing namespace. */
async function ensureNamespaces(api: ApiClient, cases: readonly CorpusCase[]): Promise<void> {
  const namespaces = new Set(cases.filter((testCase) => RESOURCES[testCase.object.kind]?.namespaced).map((testCase) => testCase.object.metadata?.namespace ?? 'default'));
  for (const namespace of namespaces) {
    const exists = await api.send('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}`);
    if (ok(exists)) continue;
    // An invalid namespace name is refused here and judged by the case itself.
    await api.send('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, cases: { type: 'string' }, out: { type: 'string' } } });
  if (!values.kubeconfig) throw new Error('--kubeconfig FILE is required (npm run apiserver:record passes it)');
  const api = new ApiClient(values.kubeconfig);
  const cases = readCases(resolve(values.cases ?? DEFAULT_CASES));
  if (cases.length === 0) throw new Error(`no cases in ${values.cases ?? DEFAULT_CASES}`);
  const version = await api.send('GET', '/version');
  if (!ok(version) || typeof version.body.gitVersion !== 'string') throw new Error(`GET /version: HTTP ${version.status}`);
  await ensureNamespaces(api, cases);

  const recorded: Record<string, Verdict> = {};
  const disagreements: string[] = [];
  for (const testCase of [...cases].sort((left, right) => left.name.localeCompare(right.name))) {
    const verdict = await verdictOf(api, testCase);
    recorded[testCase.name] = verdict;
    if (verdict.accepted !== (testCase.expect === 'accept')) {
      disagreements.push(`  ${testCase.name}: expect ${testCase.expect}, the API server ${verdict.accepted ? 'accepts it' : `refuses it: ${verdict.message}`}`);
    }
  }
  const out = resolve(values.out ?? DEFAULT_OUT);
  writeFileSync(out, `${JSON.stringify({ recordedWith: `kube-apiserver ${version.body.gitVersion}`, cases: recorded }, null, 2)}\n`);
  const accepted = Object.values(recorded).filter((verdict) => verdict.accepted).length;
  process.stdout.write(`${cases.length} cases recorded with kube-apiserver ${version.body.gitVersion}: ${accepted} accepted, ${cases.length - accepted} refused → ${out}\n`);
  if (disagreements.length > 0) {
    process.stdout.write(`${disagreements.length} cases whose expect differs from the API server:\n${disagreements.join('\n')}\n`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`record-corpus: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
