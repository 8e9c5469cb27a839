import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBackendOptions } from '../src/cli/check-backend-options.js';
import { createLogger } from '../src/index.js';
import { parseDuration } from '../src/config/duration.js';
import { resolve } from './support/resolve-options.js';

function configFile(lines: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kplane-config-')), 'config.yaml');
  writeFileSync(file, ['apiVersion: kubeproxy.config.k8s.io/v1alpha1', 'kind: KubeProxyConfiguration', ...lines].join('\n'));
  return file;
}

describe('CLI options', () => {
  it('parses Go durations', () => {
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('1h0m0s')).toBe(3_600_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(() => parseDuration('1 minute')).toThrow('invalid duration');
  });

  it('turns flags into the node config, validating addresses', () => {
    const { options } = resolve(['--node-name', 'n1', '--node-ip', '192.168.0.1', '--node-ip', 'fd00::01', '--cluster-cidr', '10.244.1.7/16, fd00:10::/48', '--masquerade-bit', '3', '--backend-opt', 'layout=flat', '--min-sync-period', '500ms']);
    expect(options.config).toMatchObject({ nodeName: 'n1', nodeIPs: ['192.168.0.1', 'fd00::1'], clusterCIDRs: ['10.244.0.0/16', 'fd00:10::/48'], masqueradeBit: 3, minSyncPeriodMs: 500, syncPeriodMs: 3_600_000, drainGraceMs: 30_000 });
    expect(options.config.backendOptions.get('layout')).toBe('flat');
    expect(options).toMatchObject({ backend: 'nft', backendReason: 'kplane\'s default backend' });
    expect(() => resolve(['--node-ip', '10.0.0.300'])).toThrow('--node-ip 10.0.0.300: invalid');
    expect(() => resolve(['--masquerade-bit', '40'])).toThrow('--masquerade-bit');
    expect(() => resolve(['--backend-opt', 'novalue'])).toThrow('expected key=value');
  });

  it('refuses a bad log level, duration or bind address by its flag', () => {
    expect(() => resolve(['--log-level', 'loud'])).toThrow('--log-level loud: expected one of trace, debug, info, warn, error, fatal, silent');
    expect(() => resolve(['--sync-period', '1 hour'])).toThrow('--sync-period: invalid duration "1 hour"');
    expect(() => resolve(['--healthz-bind-address', '0.0.0.0'])).toThrow('--healthz-bind-address: invalid bind address "0.0.0.0"');
    expect(resolve(['--metrics-bind-address', '']).options.metricsBindAddress).toBe('');
  });

  it('takes --tool-timeout, the longest one tool call may run before it is killed (60 s by default)', () => {
    expect(resolve([]).options.config.toolTimeoutMs).toBe(60_000);
    expect(resolve(['--tool-timeout', '2s']).options.config.toolTimeoutMs).toBe(2000);
    expect(() => resolve(['--tool-timeout', '0'])).toThrow('--tool-timeout must be positive');
  });

  it('takes kube-proxy\'s flag spellings: --proxy-mode, --hostname-override, --v', () => {
    expect(resolve(['--proxy-mode', 'ipvs']).options).toMatchObject({ backend: 'ipvs', backendReason: '--proxy-mode ipvs' });
    expect(resolve(['--proxy-mode', 'nftables', '--node-ip', '10.0.0.5']).options).toMatchObject({ backend: 'nft', config: { nodePortAddresses: ['10.0.0.5/32'] } });
    expect(resolve(['--proxy-mode', '']).options).toMatchObject({ backend: 'iptables', backendReason: expect.stringContaining('kube-proxy\'s default on Linux is iptables mode') });
    expect(() => resolve(['--proxy-mode', 'kernelspace'])).toThrow('--proxy-mode kernelspace: expected iptables, ipvs or nftables');
    expect(() => resolve(['--proxy-mode', 'ipvs', '--backend', 'nft'])).toThrow('--backend and --proxy-mode both choose the backend');
    expect(resolve(['--hostname-override', ' Node-7 ']).options.config.nodeName).toBe('node-7');
    expect(() => resolve(['--hostname-override', 'a', '--node-name', 'b'])).toThrow('--node-name and --hostname-override set the same thing');
    expect(['0', '2', '3', '4', '5', '10'].map((v) => resolve(['--v', v]).options.logLevel)).toEqual(['info', 'info', 'debug', 'debug', 'trace', 'trace']);
    expect(resolve(['--v=4']).options.logLevel).toBe('debug');
    expect(() => resolve(['--v', 'high'])).toThrow('--v high: expected a klog verbosity');
  });

  it('resolves kube-proxy\'s --nodeport-addresses keywords', () => {
    const nodeIPs = ['--node-ip', '192.168.0.10', '--node-ip', '192.168.0.11', '--node-ip', 'fd00::10'];
    expect(resolve([...nodeIPs, '--nodeport-addresses', 'primary']).options.config.nodePortAddresses).toEqual(['192.168.0.10/32', 'fd00::10/128']);
    expect(resolve([...nodeIPs, '--nodeport-addresses', 'primary,10.0.0.0/8']).options.config.nodePortAddresses).toEqual(['192.168.0.10/32', 'fd00::10/128', '10.0.0.0/8']);
    expect(resolve([...nodeIPs, '--nodeport-addresses', 'localhost']).options.config.nodePortAddresses).toEqual(['127.0.0.0/8', '::1/128']);
    expect(resolve([...nodeIPs, '--nodeport-addresses', 'all,10.0.0.0/8']).options.config.nodePortAddresses).toEqual([]);
    expect(() => resolve([...nodeIPs, '--nodeport-addresses', 'primaries'])).toThrow('--nodeport-addresses primaries: invalid');
  });

  it('reads a KubeProxyConfiguration under the flags, and reports every field it ignores by its full path', () => {
    const file = configFile([
      'mode: ipvs',
      'hostnameOverride: from-file',
      'clusterCIDR: 10.244.0.0/16',
      'metricsBindAddress: 0.0.0.0:10249',
      'ipvs: { scheduler: lc, minSyncPeriod: 2s, syncPeriod: 30m }',
      'iptables: { masqueradeAll: true }',
      'conntrack: { maxPerCore: 32768 }',
      'featureGates: { SomeGate: true }',
    ]);
    const { options, logged } = resolve(['--config', file, '--node-name', 'from-flag']);
    expect(options.backend).toBe('ipvs');
    expect(options.config).toMatchObject({ nodeName: 'from-flag', clusterCIDRs: ['10.244.0.0/16'], masqueradeAll: true, minSyncPeriodMs: 2000, syncPeriodMs: 1_800_000 });
    expect(options.config.backendOptions.get('scheduler')).toBe('lc');
    expect(options.metricsBindAddress).toBe('0.0.0.0:10249');
    expect(logged.filter(([level]) => level === 'warn')).toEqual([
      ['warn', { config: file, mode: 'ipvs', fields: ['conntrack.maxPerCore', 'featureGates.SomeGate'] }, 'KubeProxyConfiguration fields that kplane does not read in this mode; ignored'],
    ]);
  });

  it('names the config field when a value from --config is refused', () => {
    expect(() => resolve(['--config', configFile(['clusterCIDR: 10.244.0.0'])])).toThrow('clusterCIDR (--config');
    expect(() => resolve(['--config', configFile(['healthzBindAddress: nowhere'])])).toThrow('healthzBindAddress (--config');
    // A flag on the command line replaces the file's value before it is checked.
    expect(resolve(['--config', configFile(['clusterCIDR: 10.244.0.0']), '--cluster-cidr', '10.1.0.0/16']).options.config.clusterCIDRs).toEqual(['10.1.0.0/16']);
  });

  it('keeps the file\'s ipvs.scheduler for the ipvs backend only', () => {
    const file = configFile(['mode: ipvs', 'ipvs: { scheduler: sh }']);
    expect(resolve(['--config', file]).options.config.backendOptions.get('scheduler')).toBe('sh');
    expect(resolve(['--config', file, '--backend', 'nft']).options.config.backendOptions.size).toBe(0);
    expect(resolve(['--config', file, '--backend-opt', 'scheduler=wlc']).options.config.backendOptions.get('scheduler')).toBe('wlc');
  });
});

describe('--backend-opt keys', () => {
  const logger = createLogger('silent');

  it('refuses a key the backend does not declare, naming the keys it reads', () => {
    const config = { backendOptions: new Map([['layout', 'flat'], ['leafsize', '8']]) };
    expect(() => checkBackendOptions({ name: 'iptables', optionKeys: ['layout', 'leaf-size'] }, config, logger))
      .toThrow('--backend-opt leafsize: the iptables backend has no such option (it reads: layout, leaf-size)');
    expect(() => checkBackendOptions({ name: 'iptables', optionKeys: ['layout', 'leafsize'] }, config, logger)).not.toThrow();
  });

  it('says once that a plugin without optionKeys cannot be checked', () => {
    const warnings: unknown[] = [];
    const spy = createLogger('silent');
    spy.warn = ((fields: unknown) => void warnings.push(fields)) as typeof spy.warn;
    checkBackendOptions({ name: 'mine', optionKeys: undefined }, { backendOptions: new Map([['x', '1']]) }, spy);
    expect(warnings).toEqual([{ backend: 'mine', keys: ['x'] }]);
  });
});
