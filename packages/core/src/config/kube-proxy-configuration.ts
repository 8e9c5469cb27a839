import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

/** The KubeProxyConfiguration fields kplane honours; the others are reported as ignored. */
const modeSettings = z.object({
  masqueradeAll: z.boolean().optional(),
  masqueradeBit: z.number().int().min(0).max(31).optional(),
  minSyncPeriod: z.string().optional(),
  syncPeriod: z.string().optional(),
  scheduler: z.string().optional(),
});

const schema = z.object({
  kind: z.literal('KubeProxyConfiguration'),
  apiVersion: z.string().optional(),
  hostnameOverride: z.string().optional(),
  clusterCIDR: z.string().optional(),
  mode: z.enum(['', 'iptables', 'ipvs', 'nftables']).optional(),
  healthzBindAddress: z.string().optional(),
  metricsBindAddress: z.string().optional(),
  nodePortAddresses: z.array(z.string()).nullish(),
  iptables: modeSettings.optional(),
  ipvs: modeSettings.optional(),
  nftables: modeSettings.optional(),
  clientConnection: z.object({ kubeconfig: z.string().optional(), qps: z.number().optional(), burst: z.number().optional() }).optional(),
});

export type KubeProxyConfiguration = z.infer<typeof schema>;

const MODE_BACKEND = { '': 'nft', iptables: 'iptables', ipvs: 'ipvs', nftables: 'nft' } as const;
/** Where kube-proxy reads sync settings in each mode ('' was iptables mode in kube-proxy). */
const MODE_SECTION = { '': 'iptables', iptables: 'iptables', ipvs: 'ipvs', nftables: 'nftables' } as const;

/** The CLI flags a KubeProxyConfiguration file stands for, and the fields it had that kplane ignores. */
export function readKubeProxyConfiguration(path: string): { flags: Record<string, unknown>; ignored: string[] } {
  const raw = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const config = result.data;
  const known = new Set(Object.keys(schema.shape));
  const ignored = Object.keys(raw).filter((key) => !known.has(key));
  const mode = config.mode ?? '';
  const backend = MODE_BACKEND[mode];
  const settings = { ...config[MODE_SECTION[mode]] };
  const flags: Record<string, unknown> = {
    backend,
    nodeName: config.hostnameOverride,
    clusterCidr: config.clusterCIDR,
    healthzBindAddress: config.healthzBindAddress,
    metricsBindAddress: config.metricsBindAddress,
    nodeportAddresses: config.nodePortAddresses?.join(','),
    masqueradeAll: settings.masqueradeAll,
    masqueradeBit: settings.masqueradeBit?.toString(),
    minSyncPeriod: settings.minSyncPeriod,
    syncPeriod: settings.syncPeriod,
    kubeconfig: config.clientConnection?.kubeconfig,
    kubeApiQps: config.clientConnection?.qps?.toString(),
    kubeApiBurst: config.clientConnection?.burst?.toString(),
    backendOpt: settings.scheduler ? [`scheduler=${settings.scheduler}`] : undefined,
  };
  return { flags: Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined && value !== '')), ignored };
}
