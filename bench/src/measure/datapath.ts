import type { RunSettings } from '../options.js';
import type { Progress } from '../progress.js';
import type { BenchSandbox } from '../sandbox/bench-sandbox.js';
import { SERVICE_PORT, type Workload } from '../workload.js';

/** Per-round samples to the workload's first and last service. */
export interface FirstAndLast {
  readonly first: readonly number[];
  readonly last: readonly number[];
}

/** Connect latency and iperf3 bandwidth to the first and last service: the datapath figures of every row, kplane's and kube-proxy's alike. */
export async function measureDatapath(sandbox: BenchSandbox, workload: Workload, settings: RunSettings, progress: Progress, name: string): Promise<{ connect: FirstAndLast; bandwidth: FirstAndLast }> {
  const vip = (index: number): string => workload.clusterIPs[index]!;
  progress.status(`${name}: connect latency to the first and last service`);
  const targets = [workload.first, workload.last].map((index) => ({ host: vip(index), port: SERVICE_PORT }));
  const { samples } = await sandbox.prober.request('connects', { targets, count: settings.connects });
  progress.status(`${name}: iperf3 to the first and last service`);
  const bandwidth = { first: [] as number[], last: [] as number[] };
  for (let round = 0; round < settings.iperfRounds; round++) {
    bandwidth.first.push(await sandbox.bandwidth(vip(workload.first), 1));
    bandwidth.last.push(await sandbox.bandwidth(vip(workload.last), 1));
  }
  return { connect: { first: samples[0]!, last: samples[1]! }, bandwidth };
}
