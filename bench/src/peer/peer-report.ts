import { runFigures } from '../report/figures.js';
import type { BackendRun } from '../report/results.js';
import { median, percentile } from '../report/stats.js';
import type { KubeProxyMode } from './kube-proxy.js';
import type { PeerRun } from './peer-run.js';

/** The kplane configuration each kube-proxy mode is compared with (this machine's iptables is iptables-nft). */
export const KPLANE_OF_MODE: Readonly<Record<KubeProxyMode, string>> = { nftables: 'nft', iptables: 'iptables-tree-nft' };

interface Row {
  readonly metric: string;
  readonly peer: number;
  readonly kplane: number;
  readonly digits: number;
}

/**
 * kube-proxy beside kplane, row by row for every (mode, N) both measured, with the ratio
 * kube-proxy ÷ kplane (above 1: kplane is faster, or uses more, for RSS and bandwidth read it as such).
 */
export function peerTable(peers: readonly PeerRun[], kplane: readonly BackendRun[]): string {
  const lines = ['| N | kube-proxy mode vs kplane | figure | kube-proxy | kplane | kube-proxy ÷ kplane |', '|---:|---|---|---:|---:|---:|'];
  for (const peer of peers) {
    const ours = kplane.find((run) => run.backend === KPLANE_OF_MODE[peer.mode] && run.services === peer.services);
    const against = `${peer.mode} vs ${ours?.label ?? KPLANE_OF_MODE[peer.mode]}`;
    if (peer.error) {
      lines.push(`| ${peer.services.toLocaleString('en-US')} | ${against} | kube-proxy FAILED: ${peer.error.split('\n')[0]!.replaceAll('|', '\\|')} | | | |`);
      continue;
    }
    for (const row of peerRows(peer, ours)) {
      const ratio = row.peer / row.kplane;
      lines.push(`| ${peer.services.toLocaleString('en-US')} | ${against} | ${row.metric} | ${shown(row.peer, row.digits)} | ${shown(row.kplane, row.digits)} | ${Number.isFinite(ratio) ? `${ratio.toFixed(ratio < 10 ? 2 : 1)}x` : '–'} |`);
    }
  }
  return lines.join('\n');
}

function peerRows(peer: PeerRun, ours: BackendRun | undefined): Row[] {
  const f = ours && !ours.error ? runFigures(ours) : null;
  const live = (peer.changes ?? []).map((change) => change.liveMs);
  const nan = Number.NaN;
  return [
    { metric: 'full sync to live (s)', peer: (peer.fullSync?.liveMs ?? nan) / 1000, kplane: f?.fullSyncLiveS ?? nan, digits: 2 },
    { metric: `single endpoint change to live, p50 (ms; ${live.length} vs ${f?.changes ?? 0})`, peer: median(live), kplane: f?.changeP50Ms ?? nan, digits: 1 },
    { metric: 'single endpoint change to live, p99 (ms)', peer: percentile(live, 0.99), kplane: f?.changeP99Ms ?? nan, digits: 1 },
    { metric: 'RSS peak (MB)', peer: (peer.memory?.maxRssBytes ?? nan) / 1e6, kplane: f?.maxRssMB ?? nan, digits: 0 },
    { metric: 'TCP connect to the last service, p50 (µs)', peer: median(peer.connect?.last ?? []) * 1000, kplane: f?.connectLastUs ?? nan, digits: 0 },
    { metric: 'iperf3 to the last service (Gbit/s)', peer: median(peer.bandwidth?.last ?? []) / 1e9, kplane: f?.bandwidthLastGbps ?? nan, digits: 2 },
  ];
}

function shown(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–';
}
