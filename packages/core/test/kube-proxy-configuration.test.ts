import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readKubeProxyConfiguration } from '../src/config/kube-proxy-configuration.js';
import { resolve } from './support/resolve-options.js';

const fixture = (name: string): string => new URL(`fixtures/${name}`, import.meta.url).pathname;
const NODE = ['--node-ip', '192.168.0.10', '--node-ip', 'fd00::10'];

function tempFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kplane-config-')), 'config.conf');
  writeFileSync(file, text);
  return file;
}

/** The fields of kubeadm's config.conf that kplane does not read in iptables mode (all of them hold kube-proxy's defaults). */
const KUBEADM_IGNORED_IN_IPTABLES_MODE = [
  'bindAddress', 'bindAddressHardFail', 'clientConnection.acceptContentTypes', 'clientConnection.contentType', 'configSyncPeriod',
  'conntrack.maxPerCore', 'conntrack.min', 'conntrack.tcpBeLiberal', 'conntrack.tcpCloseWaitTimeout', 'conntrack.tcpEstablishedTimeout',
  'conntrack.udpStreamTimeout', 'conntrack.udpTimeout', 'detectLocal.bridgeInterface', 'detectLocal.interfaceNamePrefix', 'detectLocalMode',
  'enableProfiling', 'iptables.localhostNodePorts', 'ipvs.excludeCIDRs', 'ipvs.minSyncPeriod', 'ipvs.scheduler', 'ipvs.strictARP', 'ipvs.syncPeriod',
  'ipvs.tcpFinTimeout', 'ipvs.tcpTimeout', 'ipvs.udpTimeout', 'logging.flushFrequency', 'logging.options.json.infoBufferSize',
  'logging.options.text.infoBufferSize', 'nftables.masqueradeAll', 'nftables.masqueradeBit', 'nftables.minSyncPeriod', 'nftables.syncPeriod',
  'oomScoreAdj', 'portRange', 'showHiddenMetricsForVersion', 'winkernel.enableDSR', 'winkernel.forwardHealthCheckVip', 'winkernel.networkName',
  'winkernel.rootHnsEndpointName', 'winkernel.sourceVip',
];

describe('kubeadm\'s kube-proxy ConfigMap', () => {
  it('loads as kubeadm writes it: null and zero values are kube-proxy\'s defaults, every unread field is named', () => {
    const { options, logged } = resolve(['--config', fixture('kubeadm-kube-proxy-configmap.yaml'), ...NODE]);
    expect(options).toMatchObject({
      backend: 'iptables',
      backendReason: expect.stringContaining('mode (--config'),
      kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf',
      kubeconfigSetting: expect.stringContaining('clientConnection.kubeconfig (--config'),
      kubeApiQps: 5,
      kubeApiBurst: 10,
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '127.0.0.1:10249',
      logLevel: 'info',
    });
    expect(options.config).toMatchObject({
      clusterCIDRs: ['10.244.0.0/16'],
      masqueradeBit: 14,
      masqueradeAll: false,
      minSyncPeriodMs: 1000,
      // syncPeriod 0s is kube-proxy's default (30s there): kplane's documented default, 1h, applies.
      syncPeriodMs: 3_600_000,
      nodePortAddresses: [],
    });
    expect(options.config.backendOptions.size).toBe(0);
    const warnings = logged.filter(([level]) => level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![1].fields).toEqual(KUBEADM_IGNORED_IN_IPTABLES_MODE);
  });

  it('loads the same from the bare config.conf the ConfigMap mounts (what kube-proxy --config reads)', () => {
    const configMap = parse(readFileSync(fixture('kubeadm-kube-proxy-configmap.yaml'), 'utf8')) as { data: Record<string, string> };
    const bare = readKubeProxyConfiguration(tempFile(configMap.data['config.conf']!));
    const wrapped = readKubeProxyConfiguration(fixture('kubeadm-kube-proxy-configmap.yaml'));
    expect(bare.settings).toEqual(wrapped.settings);
    expect(bare.ignored).toEqual(wrapped.ignored);
  });

  it('mode "" is kube-proxy\'s Linux default, iptables, and the reason says so', () => {
    const file = readKubeProxyConfiguration(fixture('kubeadm-v1.36-kube-proxy-configmap.yaml'));
    expect(file.mode).toEqual({
      mode: 'iptables',
      backend: 'iptables',
      reason: `mode (--config ${fixture('kubeadm-v1.36-kube-proxy-configmap.yaml')}) "": kube-proxy's default on Linux is iptables mode (v1.37; it plans nftables from v1.40)`,
    });
    expect(file.ignored).toContain('winkernel.enableDSR');
    expect(file.ignored).not.toContain('iptables.masqueradeBit');
  });
});

describe('a KubeProxyConfiguration per mode', () => {
  it('iptables mode reads masquerading and sync periods from iptables', () => {
    const { options, logged } = resolve(['--config', fixture('kube-proxy-iptables.yaml'), ...NODE]);
    expect(options).toMatchObject({ backend: 'iptables', backendReason: expect.stringMatching(/^mode \(--config .*\) iptables$/), kubeApiQps: 20, kubeApiBurst: 40, kubeconfig: '/etc/kubernetes/kube-proxy.kubeconfig', metricsBindAddress: '0.0.0.0:10249' });
    expect(options.config).toMatchObject({
      nodeName: 'worker-1', clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'], masqueradeAll: true, masqueradeBit: 12, syncPeriodMs: 45_000, minSyncPeriodMs: 2000,
    });
    expect(logged.find(([level]) => level === 'warn')?.[1].fields).toEqual(['iptables.localhostNodePorts', 'nftables.masqueradeBit', 'nftables.syncPeriod', 'conntrack.maxPerCore']);
  });

  it('ipvs mode reads masquerading from iptables, sync periods and the scheduler from ipvs; its minSyncPeriod 0s stays 0', () => {
    const { options, logged } = resolve(['--config', fixture('kube-proxy-ipvs.yaml'), ...NODE]);
    expect(options.backend).toBe('ipvs');
    expect(options.config).toMatchObject({ masqueradeAll: true, masqueradeBit: 13, syncPeriodMs: 20_000, minSyncPeriodMs: 0, nodePortAddresses: ['192.168.0.0/16'] });
    expect(options.config.backendOptions.get('scheduler')).toBe('lc');
    expect(logged.find(([level]) => level === 'warn')?.[1].fields).toEqual(['iptables.syncPeriod', 'iptables.minSyncPeriod', 'ipvs.strictARP', 'ipvs.excludeCIDRs']);
  });

  it('nftables mode reads nftables, and without nodePortAddresses answers NodePorts on the primary IPs', () => {
    const { options, logged } = resolve(['--config', fixture('kube-proxy-nftables.yaml'), ...NODE]);
    expect(options).toMatchObject({ backend: 'nft', logLevel: 'debug', healthzBindAddress: '[::]:10256' });
    expect(options.config).toMatchObject({ masqueradeAll: false, masqueradeBit: 10, syncPeriodMs: 600_000, minSyncPeriodMs: 500, nodePortAddresses: ['192.168.0.10/32', 'fd00::10/128'] });
    expect(logged.find(([level]) => level === 'warn')?.[1].fields).toEqual(['iptables.masqueradeBit', 'iptables.masqueradeAll']);
    expect(logged).toContainEqual(['info', { nodePortAddresses: ['primary'] }, expect.stringContaining('primary IPs')]);
  });
});

describe('a bad --config', () => {
  const refused = (text: string) => () => readKubeProxyConfiguration(tempFile(text));
  const header = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';

  it('is refused with the file and the field named', () => {
    expect(() => readKubeProxyConfiguration('/nonexistent/config.conf')).toThrow('--config /nonexistent/config.conf: cannot read it (ENOENT');
    expect(refused('mode: [')).toThrow(/--config .*: not YAML/);
    expect(refused('- a list')).toThrow('expected a YAML mapping');
    expect(refused('kind: KubeProxyConfiguration\n')).toThrow(/: apiVersion: /);
    expect(refused('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n')).toThrow(/: kind: /);
    expect(refused(`${header}iptables: { masqueradeBit: 40 }`)).toThrow(/: iptables\.masqueradeBit: /);
    expect(refused(`${header}clientConnection: { qps: -1 }`)).toThrow(/: clientConnection\.qps: /);
    expect(refused(`${header}iptables: { syncPeriod: 30 seconds }`)).toThrow(/: iptables\.syncPeriod: invalid duration "30 seconds"/);
    expect(refused(`${header}mode: kernelspace`)).toThrow(/mode \(--config .*\) kernelspace: expected iptables, ipvs or nftables/);
    expect(refused('kind: ConfigMap\napiVersion: v1\ndata: { kubeconfig.conf: "" }')).toThrow('a ConfigMap without data["config.conf"], kubeadm\'s key for the KubeProxyConfiguration (it has: kubeconfig.conf)');
    expect(refused(`kind: ConfigMap\napiVersion: v1\ndata:\n  config.conf: |\n    ${header.trim().replace('\n', '\n    ')}\n    iptables: { masqueradeBit: x }`)).toThrow(/: iptables\.masqueradeBit: /);
  });
});
