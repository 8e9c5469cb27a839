import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stderr (stdout is kept for `kplane plan` output). */
export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { component: 'kplane' } }, pino.destination({ fd: 2, sync: true }));
}
