import { DEFAULT_CONFIG, createLogger, createProxy, isClusterScoped, type ContainerModule, type ObjectKind, type Proxy, type ProxyConfig, type SourceEvent } from '@kplane/core';
import { remove, upsert } from '@kplane/core/testing';
import { rulesetSnapshot } from './sandbox/ruleset-snapshot.js';
import { SANDBOX_NETWORK, Sandbox } from './sandbox/sandbox.js';
import { checkProbesByTrace, type TraceTally } from './trace-check.js';

export interface ConformanceOptions {
  /** Suite title, e.g. "nft" or "iptables tree (legacy)". */
  readonly name: string;
  /** The backend under test: a plugin's default-exported ContainerModule. */
  readonly backend: ContainerModule;
  /** `--backend-opt` values. */
  readonly backendOptions?: Readonly<Record<string, string>>;
  /**
   * Makes two rulesets comparable where a backend legitimately renames things on a restart
   * (e.g. the nft backend's generation suffix). Defaults to no change.
   */
  readonly normalizeRuleset?: (snapshot: string) => string;
}

/**
 * A backend running in the sandbox's node namespace, driven through core's engine exactly as the
 * agent drives it, but synchronously: `apply()` hands the engine the difference to the wanted
 * objects and runs one sync, so every probe afterwards sees the rules of that sync.
 */
export class ConformanceHarness {
  proxy!: Proxy;
  /** The node namespace before the backend touched it. */
  pristine = '';
  /** Probes whose traffic the backend's trace predicted (trace-check.ts), for backends with a tracer. */
  readonly traced: TraceTally = { agreed: 0, unchecked: 0 };
  private readonly world = new Map<string, Record<string, unknown>>();

  private constructor(readonly sandbox: Sandbox, readonly options: ConformanceOptions) {}

  static async start(options: ConformanceOptions): Promise<ConformanceHarness> {
    const harness = new ConformanceHarness(await Sandbox.create(), options);
    harness.pristine = await harness.snapshot();
    checkProbesByTrace(harness.sandbox, () => harness.proxy.backend, harness.traced);
    await harness.restart();
    return harness;
  }

  get config(): ProxyConfig {
    return {
      ...DEFAULT_CONFIG,
      nodeName: SANDBOX_NETWORK.nodeName,
      nodeIPs: SANDBOX_NETWORK.nodeIPs,
      clusterCIDRs: SANDBOX_NETWORK.clusterCIDRs,
      drainGraceMs: 60_000,
      backendOptions: new Map(Object.entries(this.options.backendOptions ?? {})),
    };
  }

  /** A new agent on the same node: a new backend instance, its init, and a full sync of the current objects. */
  async restart(): Promise<void> {
    const logger = createLogger(process.env.KPLANE_LOG ?? 'silent');
    this.proxy = createProxy({ config: this.config, executor: this.sandbox.executor, logger }, this.options.backend);
    await this.proxy.backend.init();
    this.proxy.engine.handle([...this.world.values()].map((object) => upsert(object)));
    await this.sync();
  }

  /** Makes the API objects exactly `objects` (adds, updates and deletes the difference), then syncs once. */
  readonly apply = async (objects: readonly Record<string, unknown>[]): Promise<void> => {
    const wanted = new Map(objects.map((object) => [objectKey(object), object]));
    const events: SourceEvent[] = [];
    for (const [key, object] of this.world) {
      if (!wanted.has(key)) events.push(remove(object.kind as ObjectKind, key.slice(key.indexOf(' ') + 1)));
    }
    for (const [key, object] of wanted) {
      if (JSON.stringify(this.world.get(key)) !== JSON.stringify(object)) events.push(upsert(object));
    }
    this.world.clear();
    for (const [key, object] of wanted) this.world.set(key, object);
    this.proxy.engine.handle(events);
    await this.sync();
  };

  async snapshot(): Promise<string> {
    return rulesetSnapshot(this.sandbox.nodeNamespace);
  }

  /** Service ports left out, or programmed without some frontends, because the backend lacks a feature (kplane_service_ports_skipped_total). */
  async unsupportedParts(): Promise<number> {
    const metric = await this.proxy.metrics.servicePortsSkipped.get();
    return metric.values.filter((value) => value.labels.reason !== 'invalid').reduce((sum, value) => sum + value.value, 0);
  }

  async stop(): Promise<void> {
    if (this.traced.agreed > 0) process.stdout.write(`${this.options.name}: the trace predicted ${this.traced.agreed} probes (${this.traced.unchecked} unchecked)\n`);
    await this.proxy?.backend.cleanup().catch(() => {});
    await this.sandbox.destroy();
  }

  private async sync(): Promise<void> {
    if (!(await this.proxy.engine.sync())) throw new Error(`${this.options.name}: the backend failed a sync (run with KPLANE_LOG=debug to see why)`);
  }
}

/** `Kind ref`, the ref as a delete event carries it (just the name for cluster-scoped kinds). */
function objectKey(object: Record<string, unknown>): string {
  const metadata = object.metadata as { name: string; namespace?: string };
  const kind = object.kind as ObjectKind;
  return `${kind} ${isClusterScoped(kind) ? metadata.name : `${metadata.namespace ?? 'default'}/${metadata.name}`}`;
}
