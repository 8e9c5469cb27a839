import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { Command } from 'commander';
import type { ContainerModule } from 'inversify';
import { BUILTIN_BACKENDS, loadBackendPlugin, loadBuiltinBackend } from '../backend/loader.js';
import { DryRunExecutor, ExecaExecutor, ToolMissingError, type Executor } from '../backend/executor.js';
import { nodePortIPs } from '../config/node-port-ips.js';
import { DEFAULT_CONFIG } from '../config/proxy-config.js';
import { startProxyServers } from '../health/proxy-servers.js';
import { ServiceHealthServer } from '../health/service-health-server.js';
import { checkLogLevel, createLogger, type Logger } from '../logging/logger.js';
import type { RestClientMetrics } from '../metrics/rest-client-metrics.js';
import { VERSION } from '../version.js';
import { createProxy, type Proxy } from '../proxy.js';
import { FileSource } from '../source/file-source.js';
import type { Source } from '../source/source.js';
import type { ServiceExplanation } from '../debug/debug-views.js';
import type { ServiceName } from '../model/service-port.js';
import { checkBackendOptions } from './check-backend-options.js';
import { explainFromAgent, explainTarget, renderExplanation } from './explain.js';
import { MemoryRelease } from './memory-release.js';
import { tracePacket, traceWith } from './trace.js';
import { renderTrace } from '../backend/trace.js';
import { addProxyOptions, resolveProxyOptions, type ProxyOptions } from './proxy-options.js';

const program = new Command('kplane')
  .description('Kubernetes service proxy with pluggable dataplane backends (nftables, iptables, IPVS)')
  .version(VERSION)
  .showHelpAfterError();

addProxyOptions(program.command('run', { isDefault: true }).description('run the proxy (the default command)'))
  .action(async (_, command: Command) => run(command));

addProxyOptions(program.command('plan').description('print the batches the backend would send for the current state (no root needed)'))
  .option('--diff', 'instead, compare the live kernel with the plan and print the drift (exit status 1 when there is some)')
  .action(async (options: { diff?: boolean }, command: Command) => (options.diff ? planDiff(command) : plan(command)));

addProxyOptions(program.command('explain').argument('<svc/NAMESPACE/NAME>').description('the Service as kplane sees it: from the running agent\'s debug endpoint, or offline with --source file:PATH'))
  .option('-o, --output <format>', 'text or json', 'text')
  .action(async (target: string, options: { output: string }, command: Command) => explain(explainTarget(target), options.output, command));

addProxyOptions(program.command('trace <src> <dst>').description('follow one new connection SRC -> DST:PORT/PROTO through the rules kplane wrote (the live kernel here, or with --source the plan)'))
  .option('--from <origin>', 'where it starts: node, pod or external', 'pod')
  .action(async (src: string, dst: string, _, command: Command) => trace(src, dst, command));

program.command('cleanup')
  .description('remove everything kplane wrote to the kernel (all built-in backends, or one)')
  .option('--backend <name>', 'only this built-in backend')
  .option('--dry-run', 'read the kernel and print what would be removed, in each tool\'s own syntax; remove nothing')
  .option('--log-level <level>', 'log level', 'info')
  .action(async (options: { backend?: string; dryRun?: boolean; logLevel: string }) =>
    cleanup(options.backend, options.dryRun === true, createLogger(checkLogLevel(options.logLevel, '--log-level'))));

program.command('backends')
  .description('list the built-in backends and the Service features each supports')
  .action(async () => listBackends());

async function loadModule(options: ProxyOptions): Promise<ContainerModule> {
  return options.backendModule ? loadBackendPlugin(options.backendModule) : loadBuiltinBackend(options.backend);
}

async function createSource(options: ProxyOptions, logger: Logger, requestMetrics: RestClientMetrics): Promise<Source> {
  if (options.source.startsWith('file:')) {
    const path = options.source.slice('file:'.length);
    // Read at start(), which comes after the backend's init: a missing file is refused before.
    try {
      accessSync(path, constants.R_OK);
    } catch (error) {
      throw new Error(`--source ${options.source}: cannot read it (${(error as Error).message})`);
    }
    return new FileSource(path, logger);
  }
  if (options.source !== 'kubernetes') throw new Error(`--source ${options.source}: expected "kubernetes" or "file:PATH"`);
  // Loaded only when used: @kubernetes/client-node alone is about 75 MiB of resident memory.
  const { KubernetesSource } = await import('../source/kubernetes/kubernetes-source.js');
  return new KubernetesSource({
    kubeconfig: options.kubeconfig,
    kubeconfigSetting: options.kubeconfigSetting,
    qps: options.kubeApiQps,
    burst: options.kubeApiBurst,
    nodeName: options.config.nodeName,
    serviceProxyName: options.serviceProxyName,
    requestMetrics,
  }, logger);
}

/**
 * Everything that can be refused, checked before the kernel is touched: the options, the backend's
 * own options (its constructor reads them), the source and its kubeconfig. Only then may `init()` run.
 */
async function prepare(command: Command, executorFor: (options: ProxyOptions) => Executor): Promise<{ options: ProxyOptions; logger: Logger; proxy: Proxy; source: Source }> {
  const logger = createLogger();
  const options = resolveProxyOptions(command, logger);
  logger.level = options.logLevel;
  const proxy = createProxy({ config: options.config, executor: executorFor(options), logger }, await loadModule(options));
  checkBackendOptions(proxy.backend, options.config, logger);
  const source = await createSource(options, logger, proxy.metrics.restClient);
  const reason = options.backendModule ? `--backend-module ${options.backendModule}` : options.backendReason;
  logger.info({ backend: proxy.backend.name, reason, node: options.config.nodeName, nodeIPs: options.config.nodeIPs, source: options.source }, 'starting');
  return { options, logger, proxy, source };
}

async function run(command: Command): Promise<void> {
  const { options, logger, proxy: { engine, backend, metrics, debug }, source } = await prepare(command, ({ config }) => new ExecaExecutor({ timeoutMs: config.toolTimeoutMs }));
  // Listening from the start: a stop signal while the API server is still unreachable ends the process cleanly.
  const stopSignal = Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  await backend.init();
  const servers = await startProxyServers({ metrics: options.metricsBindAddress, healthz: options.healthzBindAddress }, engine.health, metrics, debug);
  const serviceHealth = new ServiceHealthServer(logger, () => engine.health.livez().healthy, nodePortIPs(options.config) ?? undefined);
  const memory = new MemoryRelease();
  // Whatever ends the run, the listeners close: an open server would keep a failed process alive.
  try {
    engine.onSynced(async () => {
      memory.worked();
      await serviceHealth.update(engine.healthCheckPorts);
    });
    engine.onRejected((rejection) => source.reportRejection?.(rejection));
    // Until the first lists arrive, /healthz answers 503 (no sync yet) and the informers retry with backoff.
    const synced = source.start(engine.handle).then(() => engine.start());
    const signal = await Promise.race([stopSignal, synced.then(() => stopSignal)]);
    logger.info({ signal: String(signal[0] ?? '') }, 'stopping; the rules stay in place');
  } finally {
    memory.stop();
    await source.stop();
    await engine.stop();
    await serviceHealth.stop();
    await servers.stop();
  }
}

/** The source's state synced once by the backend, on the dry-run executor `prepare` was given (plan, plan --diff, explain offline). */
async function syncOnce({ engine, backend }: Proxy, source: Source): Promise<void> {
  await backend.init();
  await source.start(engine.handle);
  await source.stop();
  if (!(await engine.sync())) throw new Error('the backend refused the plan (see the log above)');
}

async function plan(command: Command): Promise<void> {
  const executor = new DryRunExecutor();
  const { proxy, source } = await prepare(command, () => executor);
  await syncOnce(proxy, source);
  process.stdout.write(executor.render());
}

/** `plan --diff`: a dry-run sync on the live kernel's reads, then the backend's diff of that kernel against it. */
async function planDiff(command: Command): Promise<void> {
  const { proxy, source } = await prepare(command, ({ config }) => new DryRunExecutor(new ExecaExecutor({ timeoutMs: config.toolTimeoutMs })));
  const diff = proxy.backend.diff?.bind(proxy.backend);
  if (!diff) throw new Error(`backend ${proxy.backend.name} cannot diff the kernel (it has no diff())`);
  await syncOnce(proxy, source);
  const drift = await diff();
  process.stdout.write(drift.map((line) => `${line}\n`).join(''));
  process.exitCode = drift.length > 0 ? 1 : 0;
}

/** `explain`: offline when --source is given (a dry-run sync of it), else from the running agent's debug endpoint. */
async function explain(name: ServiceName, output: string, command: Command): Promise<void> {
  if (output !== 'text' && output !== 'json') throw new Error(`--output ${output}: expected text or json`);
  let explained: ServiceExplanation | null;
  if (command.getOptionValueSource('source') === 'cli') {
    const { options, proxy, source } = await prepare(command, () => new DryRunExecutor());
    await syncOnce(proxy, source);
    explained = proxy.debug.explain(name);
    if (!explained) throw new Error(`explain: no Service ${name} in ${options.source}`);
  } else {
    explained = await explainFromAgent(resolveProxyOptions(command, createLogger('silent')).metricsBindAddress, name);
  }
  process.stdout.write(output === 'json' ? `${JSON.stringify(explained, null, 2)}\n` : renderExplanation(explained));
}

/** `kplane trace`: the live kernel's rules, or with --source given, the batches `plan` would send. */
async function trace(src: string, dst: string, command: Command): Promise<void> {
  const from = command.opts<{ from: string }>().from;
  if (command.getOptionValueSource('source') === 'cli') {
    const executor = new DryRunExecutor();
    const { options, proxy: { engine, backend }, source } = await prepare(command, () => executor);
    const packet = tracePacket(src, dst, from, options.config.nodeIPs);
    await backend.init();
    await source.start(engine.handle);
    await source.stop();
    if (!(await engine.sync())) throw new Error('the backend refused the plan (see the log above)');
    process.stdout.write(renderTrace(await traceWith(backend, packet, executor.batches)));
    return;
  }
  // The live kernel: no source is needed (nor a kubeconfig), only the backend and its client.
  const logger = createLogger();
  const options = resolveProxyOptions(command, logger);
  logger.level = options.logLevel;
  const { backend } = createProxy({ config: options.config, executor: new ExecaExecutor({ timeoutMs: options.config.toolTimeoutMs }), logger }, await loadModule(options));
  process.stdout.write(renderTrace(await traceWith(backend, tracePacket(src, dst, from, options.config.nodeIPs))));
}

/** Removes what kplane wrote, or with `dryRun` reads the kernel and prints the removals it would send. */
async function cleanup(only: string | undefined, dryRun: boolean, logger: Logger): Promise<void> {
  const names = only ? [only] : Object.keys(BUILTIN_BACKENDS);
  const executor = dryRun ? new DryRunExecutor(new ExecaExecutor()) : new ExecaExecutor();
  for (const name of names) {
    const { backend } = createProxy({ config: DEFAULT_CONFIG, executor, logger }, await loadBuiltinBackend(name));
    try {
      await backend.cleanup();
      logger.info({ backend: name, dryRun }, dryRun ? 'listed what cleanup would remove' : 'cleaned up');
    } catch (error) {
      // A backend whose tool is not installed here never ran here: not an error for `cleanup` of every backend.
      if (!(error instanceof ToolMissingError) || only) throw error;
      logger.warn({ backend: name, tool: error.tool }, `skipped backend ${name}: ${error.tool} is not installed`);
    }
  }
  if (executor instanceof DryRunExecutor) process.stdout.write(executor.render());
}

async function listBackends(): Promise<void> {
  const logger = createLogger('warn');
  for (const name of Object.keys(BUILTIN_BACKENDS)) {
    const { backend } = createProxy({ config: DEFAULT_CONFIG, executor: new DryRunExecutor(), logger }, await loadBuiltinBackend(name));
    const indent = ' '.repeat(11);
    process.stdout.write(`${name.padEnd(10)} ${backend.description}\n${indent}features: ${[...backend.features].join(', ')}\n`);
    if (backend.optionKeys?.length) process.stdout.write(`${indent}--backend-opt keys: ${backend.optionKeys.join(', ')}\n`);
  }
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`kplane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
