import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SANDBOX_NETWORK, Sandbox, type PodSpec } from '@kplane/conformance/sandbox';
import { JsonLinesProcess } from '../process/json-lines.js';
import type { Resources } from '../process/resources.js';
import { IPERF_PORT, POD_PORT, REAL_PODS, SERVICE_CIDR } from '../workload.js';

const PROBER_SCRIPT = fileURLToPath(new URL('./prober.mjs', import.meta.url));

export type ProbeOutcome =
  | { readonly ok: true; readonly liveNs: number; readonly previousNs: number | null; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly last: unknown };

export type ProberOperations = {
  until: {
    request: { host: string; port: number; pods: readonly string[]; timeoutMs: number; intervalMs: number; probeTimeoutMs?: number };
    response: ProbeOutcome;
  };
  connects: {
    request: { targets: readonly { host: string; port: number }[]; count: number; warmup?: number };
    response: { samples: number[][] };
  };
};

/** The pods behind the real services: each answers on POD_PORT with its name; pod a also runs iperf3. */
const BENCH_PODS: readonly PodSpec[] = Object.entries(REAL_PODS).map(([name, ipv4], index) => ({
  name, ipv4, ipv6: `fd00:10:244:1::${11 + index}`, nodeName: SANDBOX_NETWORK.nodeName, tcp: [POD_PORT], udp: [],
}));

/**
 * A TCP connection to a service IP that no rule has taken yet is forwarded towards the node's default
 * gateway, where nobody answers: the probe would wait for its timeout. The node resets it at once
 * instead, so probes waiting for rules to go live see each miss immediately. (ICMP errors would not
 * do: the kernel rate-limits those of routes to a few a second, and TCP retries its SYN after one.)
 * Only traffic still addressed to a service IP matches: after DNAT it is addressed to a pod.
 */
const PROBE_REJECT = `table inet bench-probe {
  chain forward {
    type filter hook forward priority 10; policy accept;
    ip daddr ${SERVICE_CIDR} meta l4proto tcp reject with tcp reset
  }
}
`;

/**
 * The conformance kit's sandbox (a node namespace, pods, a client) dressed for the bench: misses
 * on service IPs are refused at once (see PROBE_REJECT), pod a serves iperf3, and the client runs
 * the prober.
 */
export class BenchSandbox {
  private constructor(
    private readonly sandbox: Sandbox,
    readonly prober: JsonLinesProcess<ProberOperations>,
    private readonly stopIperf: () => Promise<void>,
    private readonly release: () => Promise<void>,
  ) {}

  static async create(resources: Resources, prefix: string): Promise<BenchSandbox> {
    const sandbox = await Sandbox.create(BENCH_PODS, prefix);
    const release = resources.add(() => sandbox.destroy());
    let stopIperf = async (): Promise<void> => {};
    try {
      await sandbox.inNode('nft', ['-f', '-'], PROBE_REJECT);
      const iperf = spawn('ip', ['netns', 'exec', sandbox.pod('a').agent.namespace, 'iperf3', '--server', '--forceflush', '--port', String(IPERF_PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
      stopIperf = resources.addProcess(iperf);
      await listening(iperf);
      const prober = await JsonLinesProcess.start<ProberOperations>('prober', 'ip', ['netns', 'exec', sandbox.client.namespace, process.execPath, PROBER_SCRIPT], resources);
      return new BenchSandbox(sandbox, prober, stopIperf, release);
    } catch (error) {
      await stopIperf();
      await release();
      throw error;
    }
  }

  get nodeNamespace(): string {
    return this.sandbox.nodeNamespace;
  }

  get clientNamespace(): string {
    return this.sandbox.client.namespace;
  }

  /** An HTTP GET from inside the node namespace (the agent's /healthz). */
  nodeHttp(url: string): Promise<{ ok: boolean; status?: number }> {
    return this.sandbox.node.http(url);
  }

  /** iperf3 for `seconds` from the client to `host` (pod a behind it): received bits per second. */
  async bandwidth(host: string, seconds: number): Promise<number> {
    const { stdout } = await execa('ip', ['netns', 'exec', this.clientNamespace, 'iperf3', '--client', host, '--port', String(IPERF_PORT), '--time', String(seconds), '--json']);
    const report = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
    return report.end.sum_received.bits_per_second;
  }

  /** Removes the namespaces and every process in them. */
  async destroy(): Promise<void> {
    await this.prober.stop();
    await this.stopIperf();
    await this.release();
  }
}

async function listening(iperf: ReturnType<typeof spawn>): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!output.includes('Server listening')) return;
      iperf.stdout!.off('data', onData).resume();
      resolve();
    };
    iperf.stdout!.on('data', onData);
    void once(iperf, 'exit').then(([code]) => reject(new Error(`iperf3 --server exited (${String(code)}): ${output}`)));
  });
}
