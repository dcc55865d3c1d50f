/**
 * One pino logger per system; actors get a child bound to their path on first use of `ctx.log`.
 * The level comes from `LOG_LEVEL` (default 'info'); the test setup sets it to 'silent'.
 *
 * The `logger` option is a pino Logger (a child is taken) or pino options for a new one. Both are
 * checked here, so a bad value fails `ActorSystem.start` with a ConfigError naming the option
 * rather than with pino's own Error (or, for a non-logger, later, at the first log line).
 */
import { pino, type Logger, type LoggerOptions } from 'pino';
import { ConfigError } from './errors.js';

export type { Logger };

/** What the runtime calls on a logger (pino has them all). */
const LOGGER_METHODS = ['child', 'trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const DEFAULT_LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export function createLogger(systemName: string, given?: Logger | LoggerOptions): Logger {
  if (given === undefined) return build(systemName, {}, 'LOG_LEVEL');
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new ConfigError('logger', `must be a pino Logger or pino options (got ${describe(given)})`);
  }
  const methods = given as unknown as Record<string, unknown>;
  // Anything with a logging method is meant as a logger (`console`, say), not as options.
  if (LOGGER_METHODS.some((m) => typeof methods[m] === 'function')) {
    const missing = LOGGER_METHODS.filter((m) => typeof methods[m] !== 'function');
    if (missing.length > 0) throw new ConfigError('logger', `is not a pino Logger: no ${missing.join(', ')} method`);
    return (given as Logger).child({ system: systemName });
  }
  return build(systemName, given as LoggerOptions, given.level === undefined ? 'LOG_LEVEL' : 'logger.level');
}

/** A new pino logger; `levelSource` names where its level came from, for the error. */
function build(systemName: string, options: LoggerOptions, levelSource: string): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  checkLevel(levelSource, level, options);
  try {
    return pino({ name: 'genesis', base: { system: systemName }, ...options, level });
  } catch (error) {
    // Whatever else pino refuses (a bad redact, mixin or msgPrefix) is still the option's fault.
    const configError = new ConfigError('logger', error instanceof Error ? error.message : String(error));
    configError.cause = error;
    throw configError;
  }
}

/** The level must name one pino knows for these options ('silent', the defaults unless
 *  useOnlyCustomLevels, the custom ones) — or be one of their numeric values. */
function checkLevel(option: string, level: unknown, options: LoggerOptions): void {
  const custom: Record<string, unknown> = typeof options.customLevels === 'object' && options.customLevels !== null ? options.customLevels : {};
  const known: Record<string, unknown> = { ...(options.useOnlyCustomLevels ? {} : DEFAULT_LEVELS), ...custom, silent: Infinity };
  if (typeof level === 'string' && Object.hasOwn(known, level)) return;
  if (typeof level === 'number' && Object.values(known).includes(level)) return;
  throw new ConfigError(option, `must be one of ${Object.keys(known).join(', ')} (got ${describe(level)})`);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'an array' : String(value);
}

/**
 * What a crash report may hand to the logger as `err`: the thrown value itself when it can be
 * printed, else a description — a value whose getters throw (`message`, `toJSON`, …) must not
 * make the report, and with it the supervisor's decision, fail. Only on crash paths (not hot).
 */
export function loggableError(error: unknown): unknown {
  try {
    if (error instanceof Error) {
      void error.message;
      void error.stack;
      void error.name;
      void (error as { cause?: unknown }).cause;
    }
    JSON.stringify(error);
    return error;
  } catch {
    return { message: `an unprintable ${typeof error} was thrown (reading it threw)` };
  }
}
