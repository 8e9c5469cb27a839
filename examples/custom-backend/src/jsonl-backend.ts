import {
  TOKENS, endpointAddress, inject, injectable,
  type DataplaneBackend, type Endpoint, type Executor, type Feature, type ProxyConfig, type ServicePortState, type SyncRequest,
} from '@kplane/core';

/**
 * A complete kplane backend in one file. It writes one JSON line per changed service port (a full
 * sync starts with a "reset" line), so a dataplane of your own can follow the desired state with
 * `tail -F`. Like every backend it only turns state into one batched write per sync: core watches
 * the API, selects endpoints, schedules syncs and drains.
 */
@injectable()
export class JsonLinesBackend implements DataplaneBackend {
  readonly name = 'jsonl';
  readonly description = 'writes the desired state as JSON lines';
  // No SCTP: core leaves SCTP ports out for this backend, with a warning and a count, and programs the rest.
  readonly features = new Set<Feature>([
    'TCP', 'UDP', 'IPv4', 'IPv6', 'NodePort', 'ExternalIP', 'LoadBalancerIP', 'LoadBalancerSourceRanges',
    'SessionAffinity', 'ExternalTrafficPolicyLocal', 'InternalTrafficPolicyLocal',
  ]);
  readonly usesConntrack = false;
  readonly optionKeys = ['file'];
  private readonly file: string;

  constructor(
    @inject(TOKENS.Executor) private readonly executor: Executor,
    @inject(TOKENS.Config) config: ProxyConfig,
  ) {
    this.file = config.backendOptions.get('file') ?? 'kplane-state.jsonl';
  }

  async init(): Promise<void> {}

  async sync({ full, changed, state }: SyncRequest): Promise<void> {
    const lines: object[] = full ? [{ op: 'reset' }, ...[...state.values()].map(describe)] : [];
    if (!full) for (const key of changed) {
      const port = state.get(key);
      lines.push(port ? describe(port) : { op: 'delete', key });
    }
    if (lines.length === 0) return;
    // One batched write per sync, through core's executor: `kplane plan` shows it, tests record it.
    await this.executor.apply({ tool: 'tee', args: full ? [this.file] : ['-a', this.file], input: lines.map((line) => JSON.stringify(line)).join('\n') + '\n' });
  }

  /** A file holds no connections: drains end at the next check. */
  async activeConnections(endpoints: readonly Endpoint[]): Promise<ReadonlyMap<string, number>> {
    return new Map(endpoints.map((endpoint) => [endpointAddress(endpoint), 0]));
  }

  /** Nothing in the kernel to remove; the file is the consumer's to keep or delete. */
  async cleanup(): Promise<void> {}
}

function describe({ servicePort, internalEndpoints, externalEndpoints, draining }: ServicePortState): object {
  return {
    op: 'set',
    key: servicePort.key,
    protocol: servicePort.protocol,
    frontends: [...servicePort.clusterIPs, ...servicePort.externalIPs, ...servicePort.loadBalancerIPs].map((ip) => endpointAddress({ ip, port: servicePort.port })),
    nodePort: servicePort.nodePort,
    endpoints: internalEndpoints.map(endpointAddress),
    externalEndpoints: externalEndpoints.map(endpointAddress),
    draining: draining.map(endpointAddress),
  };
}
