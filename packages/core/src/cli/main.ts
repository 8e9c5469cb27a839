import { once } from 'node:events';
import { Command } from 'commander';
import type { ContainerModule } from 'inversify';
import { BUILTIN_BACKENDS, loadBackendPlugin, loadBuiltinBackend } from '../backend/loader.js';
import { DryRunExecutor, ExecaExecutor, type Executor } from '../backend/executor.js';
import { nodePortIPs } from '../config/node-port-ips.js';
import { DEFAULT_CONFIG } from '../config/proxy-config.js';
import { startProxyServers } from '../health/proxy-servers.js';
import { ServiceHealthServer } from '../health/service-health-server.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createProxy } from '../proxy.js';
import { FileSource } from '../source/file-source.js';
import type { Source } from '../source/source.js';
import { addProxyOptions, resolveProxyOptions, type ProxyOptions } from './proxy-options.js';

const program = new Command('kplane')
  .description('Kubernetes service proxy with pluggable dataplane backends (nftables, iptables, IPVS)')
  .version('0.1.0')
  .showHelpAfterError();

addProxyOptions(program.command('run', { isDefault: true }).description('run the proxy (the default command)'))
  .action(async (_, command: Command) => run(command));

addProxyOptions(program.command('plan').description('print the batches the backend would send for the current state (no root needed)'))
  .action(async (_, command: Command) => plan(command));

program.command('cleanup')
  .description('remove everything kplane wrote to the kernel (all built-in backends, or one)')
  .option('--backend <name>', 'only this built-in backend')
  .option('--log-level <level>', 'log level', 'info')
  .action(async (options: { backend?: string; logLevel: string }) => cleanup(options.backend, createLogger(options.logLevel)));

program.command('backends')
  .description('list the built-in backends and the Service features each supports')
  .action(async () => listBackends());

async function loadModule(options: ProxyOptions): Promise<ContainerModule> {
  return options.backendModule ? loadBackendPlugin(options.backendModule) : loadBuiltinBackend(options.backend);
}

async function createSource(options: ProxyOptions, logger: Logger): Promise<Source> {
  if (options.source.startsWith('file:')) return new FileSource(options.source.slice('file:'.length), logger);
  if (options.source !== 'kubernetes') throw new Error(`--source ${options.source}: expected "kubernetes" or "file:PATH"`);
  // Loaded only when used: @kubernetes/client-node alone is about 75 MiB of resident memory.
  const { KubernetesSource } = await import('../source/kubernetes/kubernetes-source.js');
  return new KubernetesSource({
    kubeconfig: options.kubeconfig,
    qps: options.kubeApiQps,
    burst: options.kubeApiBurst,
    nodeName: options.config.nodeName,
    serviceProxyName: options.serviceProxyName,
  }, logger);
}

async function run(command: Command): Promise<void> {
  const logger = createLogger(command.opts().logLevel as string);
  const options = resolveProxyOptions(command, logger);
  logger.level = options.logLevel;
  const proxy = createProxy({ config: options.config, executor: new ExecaExecutor(), logger }, await loadModule(options));
  const { engine, backend, metrics } = proxy;
  logger.info({ backend: backend.name, node: options.config.nodeName, nodeIPs: options.config.nodeIPs, source: options.source }, 'starting');
  await backend.init();
  const servers = await startProxyServers({ metrics: options.metricsBindAddress, healthz: options.healthzBindAddress }, engine.health, metrics);
  const serviceHealth = new ServiceHealthServer(logger, () => engine.health.livez().healthy, nodePortIPs(options.config) ?? undefined);
  engine.onSynced(() => serviceHealth.update(engine.healthCheckPorts));
  const source = await createSource(options, logger);
  engine.onRejected((rejection) => source.reportRejection?.(rejection));
  await source.start(engine.handle);
  engine.start();
  const signal = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  logger.info({ signal: String(signal[0] ?? '') }, 'stopping; the rules stay in place');
  await source.stop();
  await engine.stop();
  await serviceHealth.stop();
  await servers.stop();
}

async function plan(command: Command): Promise<void> {
  const logger = createLogger(command.opts().logLevel as string);
  const options = resolveProxyOptions(command, logger);
  const executor = new DryRunExecutor();
  const { engine, backend } = createProxy({ config: options.config, executor, logger }, await loadModule(options));
  await backend.init();
  const source = await createSource(options, logger);
  await source.start(engine.handle);
  await source.stop();
  if (!(await engine.sync())) throw new Error('the backend refused the plan (see the log above)');
  process.stdout.write(executor.render());
}

async function cleanup(only: string | undefined, logger: Logger): Promise<void> {
  const names = only ? [only] : Object.keys(BUILTIN_BACKENDS);
  const executor: Executor = new ExecaExecutor();
  for (const name of names) {
    const { backend } = createProxy({ config: DEFAULT_CONFIG, executor, logger }, await loadBuiltinBackend(name));
    await backend.cleanup();
    logger.info({ backend: name }, 'cleaned up');
  }
}

async function listBackends(): Promise<void> {
  const logger = createLogger('warn');
  for (const name of Object.keys(BUILTIN_BACKENDS)) {
    const { backend } = createProxy({ config: DEFAULT_CONFIG, executor: new DryRunExecutor(), logger }, await loadBuiltinBackend(name));
    process.stdout.write(`${name.padEnd(10)} ${backend.description}\n${' '.repeat(11)}features: ${[...backend.features].join(', ')}\n`);
  }
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`kplane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
