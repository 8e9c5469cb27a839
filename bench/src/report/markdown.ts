import { planFigures, runFigures } from './figures.js';
import type { BackendRun, BenchResults } from './results.js';
import { median } from './stats.js';
import { checkTargets, targetServices } from './targets.js';

export interface ChartLink {
  readonly title: string;
  /** Relative to the markdown file. */
  readonly path: string;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** Full sync, single changes, memory and the file source for each backend at one N. */
export function syncTable(runs: readonly BackendRun[]): string {
  return table(
    ['backend', 'full sync, live (s)', 'accepted / in tools (s)', 'CPU agent / tools (s)', 'agent RSS idle → after / peak (MB)', 'change p50 / p99 (ms)', 'accepted / in tools, p50 (ms)', 'changes', 'file edit → live (ms)'],
    runs.map((run) => {
      if (run.error) return [run.label, `failed: ${run.error.split('\n')[0]!.slice(0, 160)}`, ...Array<string>(7).fill('')];
      const f = runFigures(run);
      return [
        run.label, fixed(f.fullSyncLiveS, 2), `${fixed(f.fullSyncAcceptedS, 2)} / ${fixed(f.fullSyncToolS, 2)}`, `${fixed(f.agentCpuS, 2)} / ${fixed(f.toolCpuS, 2)}`,
        `${fixed(f.idleRssMB, 0)} → ${fixed(f.rssMB, 0)} / ${fixed(f.maxRssMB, 0)}`,
        `${fixed(f.changeP50Ms)} / ${fixed(f.changeP99Ms)}`, `${fixed(f.changeAcceptedP50Ms)} / ${fixed(f.changeToolP50Ms)}`, String(f.changes), fixed(f.fileEditMs, 0),
      ];
    }),
  );
}

/** First-packet latency and bandwidth to the first and the last service. */
export function datapathTable(runs: readonly BackendRun[]): string {
  return table(
    ['backend', 'connect first, median / p99 (µs)', 'connect last, median / p99 (µs)', 'last/first', 'iperf3 first, median (Gbit/s)', 'iperf3 last, median (Gbit/s)', 'last/first'],
    runs.filter((run) => !run.error).map((run) => {
      const f = runFigures(run);
      return [
        run.label, `${fixed(f.connectFirstUs, 0)} / ${fixed(f.connectFirstP99Us, 0)}`, `${fixed(f.connectLastUs, 0)} / ${fixed(f.connectLastP99Us, 0)}`,
        fixed(f.connectRatio, 2), fixed(f.bandwidthFirstGbps, 2), fixed(f.bandwidthLastGbps, 2), fixed(f.bandwidthRatio, 2),
      ];
    }),
  );
}

/** The YAML manifest file read through core's reader and through the real CLI, per N. */
export function fileSourceTable(results: BenchResults): string {
  const seconds = (samples: readonly number[]): string => `${fixed(median(samples) / 1000, 2)} [${fixed(Math.min(...samples) / 1000, 2)}–${fixed(Math.max(...samples) / 1000, 2)}]`;
  return table(
    ['services', 'file (MB)', 'read the file (s)', '`kplane plan` (s)', '`kplane run`: start → all live / → /healthz (s)', 'file edit → live (ms)'],
    results.fileLoad.map((load) => {
      const run = results.runs.find((entry) => entry.backend === 'nft' && entry.services === load.services && entry.fileSource)?.fileSource;
      return [
        count(load.services), fixed(load.bytes / 1e6, 1), seconds(load.parseMs), seconds(load.planMs),
        run ? `${fixed(run.liveMs / 1000, 2)} / ${fixed(run.startupMs / 1000, 2)}` : '–', run ? fixed(median(run.editLiveMs), 0) : '–',
      ];
    }),
  );
}

function sizesOf(runs: readonly BackendRun[]): number[] {
  return [...new Set(runs.map((run) => run.services))].sort((a, b) => a - b);
}

function perSize(runs: readonly BackendRun[], heading: string): string[] {
  return sizesOf(runs).flatMap((services) => {
    const atSize = runs.filter((run) => run.services === services);
    return [`${heading} ${count(services)} services`, '', syncTable(atSize), '', datapathTable(atSize), ''];
  });
}

export function renderMarkdown(results: BenchResults, charts: readonly ChartLink[]): string {
  const { machine } = results;
  const services = targetServices(results);
  const lines: string[] = [
    '# kplane bench results',
    '',
    `Run of ${results.startedAt} (${fixed(results.seconds / 60, 1)} min) at commit \`${machine.commit}\`, produced by \`npm run bench${results.settings.quick ? ' -- --quick' : ''}\` (bench/README.md explains the method).`,
    `Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, kernel ${machine.kernel}, node ${machine.node}.`,
    `Load average at start ${machine.loadAtStart.join(' / ')}, at end ${machine.loadAtEnd.join(' / ')}: on a shared 2-core machine, other work shows up in every timing below.`,
    `Debian packages: ${Object.entries(machine.tools).map(([tool, version]) => `${tool} ${version}`).join(', ')}.`,
    '',
    `## Targets at ${services === null ? 'no' : count(services)} services${services === 20_000 ? '' : ' (the largest N of this run; the targets are set for 20,000)'}`,
    '',
    table(['target', 'measured', 'met'], checkTargets(results).map((check) => [check.target, check.measured, check.met === null ? '(comparison)' : check.met ? 'yes' : '**no**'])),
    '',
    ...(results.failures.length > 0 ? ['## Steps that failed', '', ...results.failures.map((failure) => `- ${failure.split('\n')[0]}`), ''] : []),
    '## Every backend side by side (native, this machine)',
    '',
    'Each (backend, N) ran in a fresh sandbox of network namespaces with a fresh agent process. **full sync, live**: from the agent receiving',
    'the N services to a probe connection from the client pod reaching the last service. **accepted**: until the backend\'s sync returned.',
    '**change**: one EndpointSlice change on a random service, from entering the engine to the first probe connection that reaches the new',
    'endpoints (p50/p99 over **changes**; fewer than 30 where a slow baseline used up its time budget); **in tools**: the wall time of the',
    'tool calls, summed (calls that overlap count twice). **agent RSS**: the agent process (kplane\'s engine and backend with an in-process source fed in pages of 500 services), idle',
    'after start-up, after the changes and a full GC (steady state), and its peak. **file edit → live**: the',
    'real `kplane run --source file:` agent, from the rename of the edited manifest file to a probe reaching the new endpoint (measured for',
    'every backend at the smallest N and for nft at every N: reading the edited file grows with it, whatever the backend).',
    'The first and last service (by address: the first and last rule of the flat chain), and the changed ones, have real pods as endpoints;',
    'the others point at unique fake pod addresses (their rules exist all the same).',
    '',
    ...perSize(results.runs, '###'),
    '## Control plane: core diff + plan (dry run)',
    '',
    'A full sync from raw objects through validation, the tracker, the engine and the backend\'s planner into a dry-run executor. Cold: the',
    'first sync of a fresh process; warm: the best later one (fresh proxy, JIT-compiled code, as in a long-running agent). Heap: live heap',
    'after a full GC held by the proxy for that state, divided by N.',
    '',
    table(['planner', 'services', 'validate + track (ms)', 'engine + plan (ms)', 'cold (services/s)', 'warm (services/s)', 'heap per service (KB)'],
      results.controlPlane.map((run) => {
        const f = planFigures(run);
        return [run.label, count(run.services), fixed(f.handleMs, 0), fixed(f.planMs, 0), count(Math.round(f.coldServicesPerS)), count(Math.round(f.warmServicesPerS)), fixed(f.heapKBPerService, 2)];
      })),
    '',
    '## File source: the manifests as one YAML file',
    '',
    'The workload\'s Services and EndpointSlices as YAML documents in kubectl\'s block style, each figure the median [min–max] of fresh',
    'processes: **read the file**: core\'s manifest reader on the whole text (js-yaml); **`kplane plan`**: `kplane plan --source file:` with',
    'nft, from the process start to its exit (read, validation, tracker, plan, printing the batches). **`kplane run`** (one run, nft):',
    'on a node without rules, from the process start to a probe reaching the last service, and to /healthz answering.',
    '',
    fileSourceTable(results),
    '',
    '## Tool baselines (seed 000 and kube-proxy before 1.28)',
    '',
    table(['services', '`ipset add` per entry (ms each, over a sample)', 'per entry for all N (s, extrapolated)', 'one `ipset restore` (ms)', 'restore speed-up'],
      results.baselines.ipset.map((baseline) => {
        const each = baseline.perEntry.ms / baseline.perEntry.entries;
        return [count(baseline.services), `${fixed(each, 2)} (${baseline.perEntry.entries} execs)`, fixed((each * baseline.services) / 1000, 1), fixed(baseline.restore.ms, 0), `${fixed((each * baseline.services) / baseline.restore.ms, 0)}x`];
      })),
    '',
    table(['restore', 'services', 'flat layout (MB of input)', 'load into an empty table (s)', 'full rewrite over itself (s)'],
      results.baselines.iptablesRestore.map((baseline) => {
        const seconds = (ms: number | null): string => (ms === null ? `> ${baseline.capMs / 1000} (stopped)` : fixed(ms / 1000, 2));
        return [
          `iptables-${baseline.mode}-restore${baseline.noflush ? ' --noflush' : ''}`, count(baseline.services), fixed(baseline.bytes / 1e6, 1),
          seconds(baseline.loadMs), baseline.loadMs === null ? '–' : seconds(baseline.rewriteMs),
        ];
      })),
    '',
    '## IPVS, inside a qemu VM under software emulation (TCG)',
    '',
    'This machine\'s kernel has no ip_vs, so ipvs runs in a VM with a stock Debian kernel (scripts/ipvs-vm). TCG emulates every',
    'instruction: these figures are 5-10x slower than native and **not comparable with the tables above**; compare them only with each other.',
    '',
    ...(results.vm.available && results.vm.runs.length > 0
      ? [`Guest kernel ${results.vm.kernel ?? 'unknown'}.`, '', ...perSize(results.vm.runs, '###')]
      : [`Not measured in this run: ${results.vm.reason ?? 'no VM runs'}.`, '']),
    ...(results.vm.reason && results.vm.runs.length > 0 ? [`The VM part reported: ${results.vm.reason}`, ''] : []),
    '## Charts',
    '',
    ...charts.flatMap((chart) => [`![${chart.title}](${chart.path})`, '']),
    '## What a NAT rule can and cannot slow down',
    '',
    'The nat table (iptables, nftables) and the IPVS scheduler see only the first packet of a connection; every later packet follows its',
    'conntrack entry. So the flat chain\'s O(N) walk shows in the handshake, as connect latency to the last service against the first (the',
    'flat rows above), and not in the bandwidth of an established connection: iperf3 to the first and to the last service differ by the',
    'noise of a shared machine, in both directions, for every layout. The bandwidth collapse to the last service in the Huawei report is not',
    'what a NAT rule does per packet, and this bench does not reproduce it.',
    '',
    `Raw samples, machine details and versions: \`${results.startedAt.replace(/:/g, '-')}.json\` in the results folder.`,
    '',
  ];
  return lines.join('\n');
}
