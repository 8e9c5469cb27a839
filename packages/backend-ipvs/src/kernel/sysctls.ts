/** One IPVS sysctl and the value kplane writes (null: left as the kernel has it), with why. */
export interface SysctlChoice {
  readonly key: string;
  readonly value: number | null;
  readonly reason: string;
}

/** `6.1.0-50-amd64` → [6, 1]. */
export function kernelVersion(release: string): readonly [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) throw new Error(`cannot read a kernel version from "${release}"`);
  return [Number(match[1]), Number(match[2])];
}

function atLeast([major, minor]: readonly [number, number], wantMajor: number, wantMinor: number): boolean {
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/**
 * The IPVS sysctls for a kernel (seed 001, kube-proxy's rules). conn_reuse_mode=1 makes a SYN that
 * reuses a client port still in the IPVS table be dropped before 5.9 when conntrack is on: clients
 * retry after 1 s (2000 QPS fell below 200). 0 avoids that but sends reused ports to the old real
 * server, even a weight-0 draining one, so drains then end only at their grace period.
 */
export function ipvsSysctls(release: string): SysctlChoice[] {
  const version = kernelVersion(release);
  const reuse: SysctlChoice = !atLeast(version, 4, 1)
    ? { key: 'net.ipv4.vs.conn_reuse_mode', value: null, reason: 'absent before 4.1: left alone (kube-proxy does the same)' }
    : !atLeast(version, 5, 9)
      ? { key: 'net.ipv4.vs.conn_reuse_mode', value: 0, reason: 'before 5.9, 1 drops SYNs that reuse a client port (1 s connect stalls); 0 avoids them, drains then end at their grace period' }
      : { key: 'net.ipv4.vs.conn_reuse_mode', value: 1, reason: 'since 5.9 a reused client port is rescheduled without the SYN drop, so draining servers get no new connections' };
  return [
    { key: 'net.ipv4.vs.conntrack', value: 1, reason: 'IPVS connections in conntrack: iptables masquerade and stale UDP entry cleanup need them' },
    reuse,
    { key: 'net.ipv4.vs.expire_nodest_conn', value: 1, reason: 'a connection whose real server was deleted ends at its next packet instead of being silently dropped' },
    { key: 'net.ipv4.vs.expire_quiescent_template', value: 1, reason: 'affinity templates of weight-0 servers expire, so affinity sends no new connections to a draining server' },
  ];
}

/** The values kplane writes (those it leaves alone left out), in the table's order. */
export function sysctlValues(choices: readonly SysctlChoice[]): Map<string, number> {
  return new Map(choices.flatMap(({ key, value }) => (value === null ? [] : [[key, value] as const])));
}
