/**
 * One pino logger per system; actors get a child bound to their path on first use of `ctx.log`.
 * The level comes from `LOG_LEVEL` (default 'info'); the test setup sets it to 'silent'.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

export function createLogger(systemName: string, given?: Logger | LoggerOptions): Logger {
  if (given && typeof (given as Logger).child === 'function') return (given as Logger).child({ system: systemName });
  return pino({
    name: 'genesis',
    level: process.env.LOG_LEVEL ?? 'info',
    base: { system: systemName },
    ...(given as LoggerOptions | undefined),
  });
}
