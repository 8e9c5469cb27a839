import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addProxyOptions, resolveProxyOptions } from '../src/cli/proxy-options.js';
import { createLogger, parseDuration } from '../src/index.js';

function resolve(args: string[]) {
  const warnings: string[] = [];
  const logger = createLogger('silent');
  logger.warn = ((_: unknown, message: string) => void warnings.push(message)) as typeof logger.warn;
  const command = addProxyOptions(new Command('run')).exitOverride();
  command.parse(args, { from: 'user' });
  return { options: resolveProxyOptions(command, logger), warnings };
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
    expect(() => resolve(['--node-ip', '10.0.0.300'])).toThrow('--node-ip 10.0.0.300: invalid');
    expect(() => resolve(['--masquerade-bit', '40'])).toThrow('--masquerade-bit');
    expect(() => resolve(['--backend-opt', 'novalue'])).toThrow('expected key=value');
  });

  it('reads a KubeProxyConfiguration under the flags, and warns about the fields it ignores', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kplane-config-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, [
      'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
      'kind: KubeProxyConfiguration',
      'mode: ipvs',
      'hostnameOverride: from-file',
      'clusterCIDR: 10.244.0.0/16',
      'metricsBindAddress: 0.0.0.0:10249',
      'ipvs: { scheduler: lc, minSyncPeriod: 2s, syncPeriod: 30m }',
      'iptables: { masqueradeAll: true }',
      'conntrack: { maxPerCore: 32768 }',
      'featureGates: { SomeGate: true }',
    ].join('\n'));
    const { options, warnings } = resolve(['--config', file, '--node-name', 'from-flag']);
    expect(options.backend).toBe('ipvs');
    expect(options.config).toMatchObject({ nodeName: 'from-flag', clusterCIDRs: ['10.244.0.0/16'], minSyncPeriodMs: 2000, syncPeriodMs: 1_800_000 });
    expect(options.config.backendOptions.get('scheduler')).toBe('lc');
    expect(options.metricsBindAddress).toBe('0.0.0.0:10249');
    expect(warnings).toEqual([
      'KubeProxyConfiguration field "conntrack" is not supported by kplane; ignored',
      'KubeProxyConfiguration field "featureGates" is not supported by kplane; ignored',
    ]);
  });
});
