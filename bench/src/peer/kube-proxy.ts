/**
 * The real kube-proxy, built from the k8s.io/kubernetes module by scripts/kube-proxy/build.sh
 * (cached under .cache: a second run builds nothing) and run inside a sandbox's node namespace,
 * its healthz and metrics on that namespace's loopback, against the fake API server there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { SANDBOX_NETWORK } from '@kplane/conformance/sandbox';
import { REPO_ROOT } from '../process/paths.js';
import type { Resources } from '../process/resources.js';

export type KubeProxyMode = 'nftables' | 'iptables';

const HEALTHZ = '127.0.0.1:10256';
const METRICS = '127.0.0.1:10249';
const LOG_KEPT = 16_384;

/** Builds kube-proxy once (nice'd, one Go job at a time: the machine is shared); its path and `--version`. */
export async function buildKubeProxy(log: (line: string) => void): Promise<{ binary: string; version: string }> {
  log('kube-proxy: building it from k8s.io/kubernetes (cached under .cache after the first run)');
  const build = await execa('nice', ['-n', '10', 'bash', join(REPO_ROOT, 'scripts/kube-proxy/build.sh')], { env: { GOFLAGS: '-p=1' }, stderr: 'inherit' });
  const binary = build.stdout.trim().split('\n').at(-1)!;
  const { stdout } = await execa(binary, ['--version']);
  return { binary, version: stdout.trim() };
}

/** A running kube-proxy: its pid (for /proc) and the tail of its log. */
export class KubeProxyProcess {
  private log = '';
  private readonly exited: Promise<never>;

  private constructor(private readonly child: ChildProcess, readonly namespace: string, readonly release: () => Promise<void>) {
    const keep = (chunk: Buffer): void => void (this.log = (this.log + chunk.toString()).slice(-LOG_KEPT));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise<never>((_, reject) => child.once('close', (code, signal) => reject(new Error(`kube-proxy exited (${code ?? signal}): ${this.logTail()}`))));
    this.exited.catch(() => {});
  }

  /**
   * Starts kube-proxy in `namespace` (`ip netns exec` execs it: the child's pid is kube-proxy's).
   * JSON on the wire, since the fake API server speaks no protobuf; conntrack sysctls left alone
   * (nf_conntrack_max is not the namespace's to set).
   */
  static start(resources: Resources, binary: string, namespace: string, kubeconfig: string, mode: KubeProxyMode): KubeProxyProcess {
    const args = [
      'netns', 'exec', namespace, binary,
      '--kubeconfig', kubeconfig, '--kube-api-content-type', 'application/json',
      '--hostname-override', SANDBOX_NETWORK.nodeName, '--proxy-mode', mode,
      '--cluster-cidr', SANDBOX_NETWORK.clusterCIDRs.join(','),
      '--healthz-bind-address', HEALTHZ, '--metrics-bind-address', METRICS,
      '--conntrack-max-per-core', '0', '--conntrack-tcp-timeout-established', '0', '--conntrack-tcp-timeout-close-wait', '0',
      '--v', '1',
    ];
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    return new KubeProxyProcess(child, namespace, resources.addProcess(child));
  }

  get pid(): number {
    return this.child.pid!;
  }

  logTail(lines = 12): string {
    return this.log.trim().split('\n').slice(-lines).join('\n');
  }

  /** Resolves with `wait`, or rejects if kube-proxy exits first. */
  unlessExited<T>(wait: Promise<T>): Promise<T> {
    return Promise.race([wait, this.exited]);
  }

  /** Waits for /healthz to answer 200: kube-proxy has synced its rules at least once. */
  async healthy(timeoutMs: number): Promise<void> {
    const started = performance.now();
    for (;;) {
      const { stdout } = await this.unlessExited(this.curl(`http://${HEALTHZ}/healthz`, ['-o', '/dev/null', '-w', '%{http_code}']));
      if (stdout === '200') return;
      if (performance.now() - started > timeoutMs) throw new Error(`kube-proxy not healthy within ${timeoutMs / 1000} s: ${this.logTail()}`);
      await sleep(100);
    }
  }

  /** Its own account of its syncs: `kubeproxy_sync_proxy_rules_duration_seconds` count and sum (seconds), summed over IP families. */
  async syncMetrics(): Promise<{ count: number; sumS: number }> {
    const { stdout } = await this.curl(`http://${METRICS}/metrics`);
    const value = (name: string): number => stdout.split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
    return { count: value('kubeproxy_sync_proxy_rules_duration_seconds_count'), sumS: value('kubeproxy_sync_proxy_rules_duration_seconds_sum') };
  }

  /** Resident set now and at its peak (VmRSS, VmHWM), bytes. */
  memory(): { rssBytes: number; maxRssBytes: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rssBytes: kib('VmRSS'), maxRssBytes: kib('VmHWM') };
  }

  private curl(url: string, extra: readonly string[] = []): Promise<{ stdout: string }> {
    return execa('ip', ['netns', 'exec', this.namespace, 'curl', '-s', '--max-time', '5', ...extra, url], { reject: false });
  }
}
