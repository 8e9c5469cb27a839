import { Command } from 'commander';
import { addProxyOptions, resolveProxyOptions } from '../../src/cli/proxy-options.js';
import { createLogger } from '../../src/index.js';

/** What the resolver logged: [level, fields, message]. */
export type Logged = [string, Record<string, unknown>, string];

/** `kplane run ARGS` resolved as the CLI does, with what it logged on the way. */
export function resolve(args: string[]) {
  const logged: Logged[] = [];
  const logger = createLogger('silent');
  for (const level of ['info', 'warn'] as const) {
    logger[level] = ((fields: Record<string, unknown>, message: string) => void logged.push([level, fields, message])) as typeof logger.warn;
  }
  const command = addProxyOptions(new Command('run')).exitOverride();
  command.parse(args, { from: 'user' });
  return { options: resolveProxyOptions(command, logger), logged };
}
