import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../process/paths.js';

export interface Machine {
  readonly kernel: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  /** 1, 5 and 15-minute load averages when the bench started and ended: other work on the machine skews timings. */
  readonly loadAtStart: readonly number[];
  readonly loadAtEnd: readonly number[];
  /** The busiest other processes when the bench started. */
  readonly busiestAtStart: readonly string[];
  readonly commit: string;
  readonly tools: Readonly<Record<string, string>>;
  readonly packages: Readonly<Record<string, string>>;
}

/** The Debian packages of the tools the backends and the bench drive (`ipvsadm --version` needs ip_vs, so ask dpkg). */
const TOOL_PACKAGES = ['nftables', 'iptables', 'ipset', 'ipvsadm', 'iproute2', 'conntrack', 'iperf3', 'qemu-system-x86'];

const PACKAGES = [
  'packages/core', 'packages/backend-nft', 'packages/backend-iptables', 'packages/backend-ipvs', 'packages/conformance', 'bench',
  'node_modules/vega', 'node_modules/vega-lite', 'node_modules/esbuild',
];

export async function describeMachine(): Promise<Machine> {
  const installed = await execa('dpkg-query', ['-W', '-f=${Package} ${Version}\n', ...TOOL_PACKAGES], { reject: false });
  const tools: Record<string, string> = Object.fromEntries(TOOL_PACKAGES.map((name) => [name, 'missing']));
  for (const line of installed.stdout.split('\n')) {
    const [name, version] = line.split(' ');
    if (name && version) tools[name] = version;
  }
  const packages: Record<string, string> = {};
  for (const path of PACKAGES) {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, path, 'package.json'), 'utf8')) as { name: string; version: string };
    packages[manifest.name] = manifest.version;
  }
  const head = await execa('git', ['-C', REPO_ROOT, 'rev-parse', 'HEAD'], { reject: false });
  const dirty = await execa('git', ['-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no'], { reject: false });
  const busiest = await execa('ps', ['-eo', 'pcpu,etime,args', '--sort=-pcpu', '--no-headers'], { reject: false });
  return {
    kernel: release(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAtStart: loadavg().map((load) => Number(load.toFixed(2))),
    loadAtEnd: [],
    busiestAtStart: busiest.stdout.split('\n').slice(0, 6).map((line) => line.trim().slice(0, 160)),
    commit: head.exitCode === 0 ? `${head.stdout.trim()}${dirty.stdout.trim() ? ' (with uncommitted changes)' : ''}` : 'unknown',
    tools,
    packages,
  };
}
