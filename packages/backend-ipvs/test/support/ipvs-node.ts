import { execa, type ResultPromise } from 'execa';
import { DEFAULT_CONFIG, createLogger, createProxy, systemClock, type ContainerModule, type Proxy, type ProxyConfig } from '@kplane/core';
import { SANDBOX_NETWORK, Sandbox, type ProbeResult } from '@kplane/conformance';
import { ipvsModule } from '../../src/index.js';
import { upsert } from './world.js';

const TRAFFIC = new URL('./reuse-traffic.mjs', import.meta.url).pathname;
const SCTP_TRAFFIC = new URL('./sctp-traffic.py', import.meta.url).pathname;

/**
 * The ipvs backend running for real (system clock, sync loop and drain checks started) on the node
 * namespace of a conformance sandbox, for the scenarios that need time to pass: drains and their
 * grace period, and seed 001's port reuse. Another backend's module runs the same way, for the
 * scenarios only this VM's kernel can run for every backend (SCTP).
 */
export class IpvsNode {
  proxy!: Proxy;
  private readonly world = new Map<string, Record<string, unknown>>();
  private readonly servers: ResultPromise[] = [];
  private syncs = 0;
  private waiters: (() => void)[] = [];

  private constructor(readonly sandbox: Sandbox) {}

  static async create(): Promise<IpvsNode> {
    return new IpvsNode(await Sandbox.create());
  }

  config(overrides: Partial<ProxyConfig> = {}): ProxyConfig {
    return { ...DEFAULT_CONFIG, nodeName: SANDBOX_NETWORK.nodeName, nodeIPs: SANDBOX_NETWORK.nodeIPs, clusterCIDRs: SANDBOX_NETWORK.clusterCIDRs, minSyncPeriodMs: 100, ...overrides };
  }

  /** A new agent with `config` (and the ipvs backend unless told): init, the current objects, the sync loop started. */
  async start(config: ProxyConfig, backend: ContainerModule = ipvsModule()): Promise<void> {
    // A test that failed before its own stop() must not leave its agent programming the namespace.
    await this.stop();
    this.proxy = createProxy({ config, executor: this.sandbox.executor, logger: createLogger(process.env.KPLANE_LOG ?? 'silent'), clock: systemClock }, backend);
    this.proxy.engine.onSynced(async () => {
      this.syncs++;
      for (const wake of this.waiters.splice(0)) wake();
    });
    await this.proxy.backend.init();
    this.proxy.engine.handle([...this.world.values()].map(upsert));
    const synced = this.nextSync();
    this.proxy.engine.start();
    await synced;
  }

  async stop(): Promise<void> {
    await this.proxy?.engine.stop();
  }

  /** Upserts objects and waits for the sync that programs them. */
  async upsert(...objects: Record<string, unknown>[]): Promise<void> {
    for (const object of objects) this.world.set(objectKey(object), object);
    const synced = this.nextSync();
    this.proxy.engine.handle(objects.map(upsert));
    await synced;
  }

  /** Resolves after the next successful sync. */
  nextSync(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** `ipvsadm -L -n` in the node namespace: per virtual service, its real servers with weight and connections. */
  async ipvs(): Promise<Map<string, Map<string, { weight: number; active: number; inactive: number }>>> {
    const services = new Map<string, Map<string, { weight: number; active: number; inactive: number }>>();
    let current: Map<string, { weight: number; active: number; inactive: number }> | undefined;
    for (const line of (await this.sandbox.inNode('ipvsadm', ['-L', '-n'])).split('\n')) {
      const words = line.trim().split(/\s+/);
      if (words[0] === 'TCP' || words[0] === 'UDP' || words[0] === 'SCTP') services.set(`${words[0]} ${words[1]}`, (current = new Map()));
      else if (words[0] === '->' && current && /^\d+$/.test(words[3] ?? '')) current.set(words[1]!, { weight: Number(words[3]), active: Number(words[4]), inactive: Number(words[5]) });
    }
    return services;
  }

  /** Polls `check` until it holds (a bounded wait for the drain loop, not a timing assertion). */
  async until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`still not true after ${timeoutMs} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Starts a closing server (see reuse-traffic.mjs) in a pod's namespace. */
  async serveClosing(pod: string, port: number): Promise<void> {
    await this.startServer(pod, [process.execPath, TRAFFIC, 'serve', String(port), pod]);
  }

  /** Starts an SCTP server (see sctp-traffic.py) in a pod's namespace. */
  async serveSctp(pod: string, port: number): Promise<void> {
    await this.startServer(pod, ['python3', SCTP_TRAFFIC, 'serve', String(port), pod]);
  }

  /** `count` SCTP associations in turn from a namespace of the sandbox (the client pod's by default) to host:port, each held up `hold` seconds before its message. */
  async sctp(host: string, port: number, count: number, namespace = this.sandbox.client.namespace, hold = 0): Promise<ProbeResult[]> {
    const { stdout } = await execa('ip', ['netns', 'exec', namespace, 'python3', SCTP_TRAFFIC, 'probe', host, String(port), String(count), String(hold)]);
    return JSON.parse(stdout) as ProbeResult[];
  }

  /** A server in a pod's namespace, ready once it printed its first line. */
  private async startServer(pod: string, command: readonly string[]): Promise<void> {
    const server = execa('ip', ['netns', 'exec', this.sandbox.pod(pod).agent.namespace, ...command], { reject: false });
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.stdout!.once('data', () => resolve());
      void server.then((result) => reject(new Error(`server in pod ${pod} exited: ${result.stderr}`)));
    });
  }

  /** Opens connections from the client pod to host:port, keeping the first one `pod` answers (by `name`). */
  async keepConnectionTo(host: string, port: number, pod: string, name: string): Promise<string> {
    for (let i = 0; i < 8; i++) {
      const probe = await this.sandbox.client.tcp(host, port, { keep: `${name}-${i}` });
      if (probe.ok && probe.answer.pod === pod) return `${name}-${i}`;
    }
    throw new Error(`no connection to ${host}:${port} reached pod ${pod}`);
  }

  /** `count` connections from the client pod to host:port, cycling through `localPorts`. */
  async burst(host: string, port: number, count: number, localPorts: readonly number[]): Promise<{ answers: Record<string, number>; failures: string[] }> {
    const { stdout } = await execa('ip', ['netns', 'exec', this.sandbox.client.namespace, process.execPath, TRAFFIC, 'burst', host, String(port), String(count), ...localPorts.map(String)]);
    return JSON.parse(stdout) as { answers: Record<string, number>; failures: string[] };
  }

  /** SYNs the client pod's kernel had to send again (a dropped SYN costs a 1 s retry: seed 001's stall). */
  async clientSynRetransmits(): Promise<number> {
    const { stdout } = await execa('ip', ['netns', 'exec', this.sandbox.client.namespace, 'cat', '/proc/net/netstat']);
    const [names, values] = stdout.split('\n').filter((line) => line.startsWith('TcpExt:')).map((line) => line.split(/\s+/));
    return Number(values![names!.indexOf('TCPSynRetrans')]);
  }

  /** Resets the client pod's connections to host:port (`ss -K`): IPVS then holds them only 10 s (CLOSE). */
  async resetClientConnections(host: string, port: number): Promise<void> {
    await execa('ip', ['netns', 'exec', this.sandbox.client.namespace, 'ss', '-K', '-t', 'dst', host, 'dport', '=', String(port)]);
  }

  async destroy(): Promise<void> {
    await this.stop();
    await this.proxy?.backend.cleanup().catch(() => {});
    for (const server of this.servers) server.kill();
    await this.sandbox.destroy();
  }
}

function objectKey(object: Record<string, unknown>): string {
  const metadata = object.metadata as { name: string; namespace?: string };
  return `${String(object.kind)} ${metadata.namespace ?? 'default'}/${metadata.name}`;
}
