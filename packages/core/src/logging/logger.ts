import { pino, type Logger } from 'pino';

export type { Logger };

/** pino's levels, most verbose first; `silent` logs nothing. */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** JSON logs on stderr (stdout is kept for `kplane plan` output). */
export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { component: 'kplane' } }, pino.destination({ fd: 2, sync: true }));
}

/** `level` when it is one of LOG_LEVELS; otherwise an error naming `setting`. */
export function checkLogLevel(level: string, setting: string): string {
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`${setting} ${level}: expected one of ${LOG_LEVELS.join(', ')}`);
  return level;
}

/**
 * kube-proxy's klog verbosity (`--v`, `logging.verbosity`) as a log level, after the Kubernetes
 * logging conventions: 0-2 are steady-state information (2 is the recommended production level),
 * 3-4 extended and debug information, 5 and above trace.
 */
export function levelForVerbosity(text: string, setting: string): string {
  const verbosity = Number(text);
  if (text.trim() === '' || !Number.isInteger(verbosity) || verbosity < 0) throw new Error(`${setting} ${text}: expected a klog verbosity, an integer 0 or more`);
  return verbosity <= 2 ? 'info' : verbosity <= 4 ? 'debug' : 'trace';
}
