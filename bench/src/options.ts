import { parseArgs } from 'node:util';
import { BENCH_BACKENDS, backendById, type BenchBackend } from './backends.js';

/** How much each (backend, N) run measures. */
export interface RunSettings {
  readonly seed: number;
  /** Single changes asked for; a run stops early (after `minChanges`) once it has spent `changeBudgetMs` on them. */
  readonly changes: number;
  readonly minChanges: number;
  readonly changeBudgetMs: number;
  /** Handshakes to each of the first and last service. */
  readonly connects: number;
  /** iperf3 runs of one second to each of the first and last service, alternating. */
  readonly iperfRounds: number;
  /** File edits timed through `kplane run --source file:` (every backend at the smallest N, nft at every N). */
  readonly fileEdits: number;
}

export interface BenchOptions {
  readonly sizes: readonly number[];
  readonly backends: readonly BenchBackend[];
  readonly vmSizes: readonly number[];
  /** Run the ipvs part in its VM (when scripts/ipvs-vm can run here). */
  readonly vm: boolean;
  readonly run: RunSettings;
  /** Dry-run full syncs per (backend, N) for the control-plane figures (the first is cold). */
  readonly planRepeats: number;
  /** `ipset add` execs timed per N for the per-entry baseline (the rest is extrapolated). */
  readonly ipsetPerEntrySample: number;
  /** Longest a flat-layout `iptables-restore` baseline may run before it is stopped and reported as such. */
  readonly restoreCapMs: number;
  /** Where results go: bench/results + bench/RESULTS.md by default. */
  readonly outDir: string | null;
  readonly quick: boolean;
  /** Inside the IPVS VM: measure only, write raw runs to `outDir`, report progress as JSON lines. */
  readonly inner: boolean;
  /** `--soak`: only the soak (bench/src/soak) for this many minutes, at the first size, per native backend asked for (default nft). */
  readonly soakMinutes: number | null;
  /** `--crash`: only kill -9 during syncs and restarts, with this many kills of each kind per backend and N; null without. */
  readonly crashRuns: number | null;
  /** `--peer kube-proxy`: also the real kube-proxy (bench/src/peer), nftables and iptables modes, beside kplane; null without. */
  readonly peer: 'kube-proxy' | null;
}

const USAGE = `npm run bench [-- options]
  --quick              tiny N (50, 200) and few samples: the smoke test \`npm test\` runs (no timing assertions)
  --full               adds N = 50,000
  --sizes LIST         service counts, e.g. 1000,5000
  --backends LIST      ids: ${BENCH_BACKENDS.map((backend) => backend.id).join(', ')}
  --vm-sizes LIST      service counts for ipvs in its VM (default 1000,10000; quick: 50)
  --no-vm              skip the IPVS VM
  --out DIR            write results there instead of bench/results and bench/RESULTS.md
  --seed N             workload seed (default 1)
  --soak               only the soak: 10 changes/s at N = 20,000 (or --sizes' first) while clients reach unchanged services
  --soak-minutes M     how long the soak churns (default 10)
  --crash              only kill -9 during full and partial syncs, then restarts (N = 5,000 unless --sizes;
                       nft and both iptables trees unless --backends; ipvs is skipped)
  --crash-runs N       kills of each kind per backend and N (default 20; with --quick 3)
  --peer kube-proxy    also the real kube-proxy (built from k8s.io/kubernetes once, cached in .cache/) in nftables
                       and iptables modes on the same workload, each figure beside kplane's with the ratio`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      full: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      backends: { type: 'string' },
      'vm-sizes': { type: 'string' },
      'no-vm': { type: 'boolean', default: false },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      inner: { type: 'boolean', default: false },
      soak: { type: 'boolean', default: false },
      'soak-minutes': { type: 'string', default: '10' },
      crash: { type: 'boolean', default: false },
      'crash-runs': { type: 'string' },
      peer: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick;
  const defaultSizes = quick ? [50, 200] : values.full ? [1000, 5000, 10_000, 20_000, 50_000] : [1000, 5000, 10_000, 20_000];
  const crashBackends = ['nft', 'iptables-tree-nft', 'iptables-tree-legacy'];
  const backends = values.backends ? values.backends.split(',').map(backendById) : values.soak ? [backendById('nft')] : values.crash ? crashBackends.map(backendById) : BENCH_BACKENDS;
  return {
    sizes: values.sizes ? numbers(values.sizes) : values.soak ? [20_000] : values.crash ? [quick ? 200 : 5000] : defaultSizes,
    backends,
    vmSizes: values['vm-sizes'] ? numbers(values['vm-sizes']) : quick ? [50] : [1000, 10_000],
    vm: !values['no-vm'] && backends.some((backend) => backend.vm),
    run: {
      seed: Number(values.seed),
      changes: quick ? 10 : 30,
      minChanges: quick ? 5 : 10,
      changeBudgetMs: quick ? 10_000 : 25_000,
      connects: quick ? 50 : 200,
      iperfRounds: quick ? 1 : 5,
      fileEdits: quick ? 1 : 2,
    },
    planRepeats: quick ? 2 : 3,
    ipsetPerEntrySample: quick ? 50 : 500,
    restoreCapMs: quick ? 30_000 : 60_000,
    outDir: values.out ?? null,
    quick,
    inner: values.inner,
    soakMinutes: values.soak ? Number(values['soak-minutes']) : null,
    crashRuns: values.crash ? Number(values['crash-runs'] ?? (quick ? 3 : 20)) : null,
    peer: peerOption(values.peer),
  };
}

function peerOption(peer: string | undefined): BenchOptions['peer'] {
  if (peer === undefined || peer === 'kube-proxy') return peer ?? null;
  throw new Error(`unknown peer "${peer}" (known: kube-proxy)\n${USAGE}`);
}

function numbers(list: string): number[] {
  const parsed = list.split(',').map(Number);
  if (parsed.some((value) => !Number.isInteger(value) || value < 2)) throw new Error(`expected service counts ≥ 2, got "${list}"\n${USAGE}`);
  return parsed;
}
