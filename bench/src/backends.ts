/** A backend configuration the bench measures: a built-in backend and its `--backend-opt` values. */
export interface BenchBackend {
  readonly id: string;
  readonly label: string;
  /** The built-in backend's name (`--backend`). */
  readonly backend: 'nft' | 'iptables' | 'ipvs';
  readonly options: Readonly<Record<string, string>>;
  /** Measured only in the IPVS VM (this kernel has no ip_vs). */
  readonly vm: boolean;
}

export const BENCH_BACKENDS: readonly BenchBackend[] = [
  { id: 'nft', label: 'nft', backend: 'nft', options: {}, vm: false },
  { id: 'iptables-tree-nft', label: 'iptables tree (nft mode)', backend: 'iptables', options: { layout: 'tree', mode: 'nft' }, vm: false },
  { id: 'iptables-tree-legacy', label: 'iptables tree (legacy mode)', backend: 'iptables', options: { layout: 'tree', mode: 'legacy' }, vm: false },
  { id: 'iptables-flat-nft', label: 'iptables flat, kube-proxy layout (nft mode)', backend: 'iptables', options: { layout: 'flat', mode: 'nft' }, vm: false },
  { id: 'iptables-flat-legacy', label: 'iptables flat, kube-proxy layout (legacy mode)', backend: 'iptables', options: { layout: 'flat', mode: 'legacy' }, vm: false },
  { id: 'ipvs', label: 'ipvs (qemu VM, TCG)', backend: 'ipvs', options: {}, vm: true },
];

/** The configurations whose planner the control-plane measurement drives (mode does not change a plan). */
export const PLANNER_BACKENDS: readonly BenchBackend[] = [
  { id: 'nft', label: 'nft', backend: 'nft', options: {}, vm: false },
  { id: 'iptables-tree', label: 'iptables tree', backend: 'iptables', options: { layout: 'tree', mode: 'nft' }, vm: false },
  { id: 'iptables-flat', label: 'iptables flat', backend: 'iptables', options: { layout: 'flat', mode: 'nft' }, vm: false },
  { id: 'ipvs', label: 'ipvs', backend: 'ipvs', options: {}, vm: false },
];

export function backendById(id: string): BenchBackend {
  const found = BENCH_BACKENDS.find((backend) => backend.id === id);
  if (!found) throw new Error(`unknown bench backend "${id}" (known: ${BENCH_BACKENDS.map((backend) => backend.id).join(', ')})`);
  return found;
}

/** The flags that select this configuration on `kplane run`. */
export function cliFlags(backend: BenchBackend): string[] {
  return ['--backend', backend.backend, ...Object.entries(backend.options).flatMap(([key, value]) => ['--backend-opt', `${key}=${value}`])];
}
