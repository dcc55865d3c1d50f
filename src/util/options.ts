/**
 * Validation of user-supplied options. Every bad value becomes a ConfigError naming the option,
 * raised where it was given — never a silent default, never a failure later.
 */
import { ConfigError } from './errors.js';

export function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

export function positiveInteger(option: string, value: unknown, allowInfinity = false): number {
  if ((allowInfinity && value === Infinity) || (Number.isInteger(value) && (value as number) > 0)) return value as number;
  throw new ConfigError(option, `must be a positive integer (got ${show(value)})`);
}

export function positiveNumber(option: string, value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
  throw new ConfigError(option, `must be a positive finite number (got ${show(value)})`);
}

/** Rejects keys the caller did not mean (typos), naming them and the accepted ones. */
export function knownKeys(option: string, value: object, allowed: readonly string[]): void {
  for (const key in value) {
    if (Object.hasOwn(value, key) && !allowed.includes(key)) throw new ConfigError(`${option}.${key}`, `unknown option (expected one of: ${allowed.join(', ')})`);
  }
}

export function checkObject(option: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(option, `must be an object (got ${show(value)})`);
  }
}

export function checkName(option: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/') || name.startsWith('$')) {
    throw new ConfigError(option, `must be a non-empty string without '/' and not starting with '$' (got ${show(name)})`);
  }
  return name;
}

/** An AbortSignal, or something that behaves as one (a signal from another realm or polyfill). */
export function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}
