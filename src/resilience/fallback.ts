/**
 * The fallback policy, outermost: it answers only when everything inside gave up (retries
 * exhausted or stopped, circuit open, a non-retryable error), and is counted apart
 * (`stats.fallbacks`, a degraded success). A fallback that throws rethrows the original error,
 * the fallback's error attached as `cause`.
 */
import type { ResilientStats } from './stats.js';

/** A value, or a function of (error, ...args) — so a function value must be wrapped in one. */
export type Fallback<A extends unknown[], R> = R | ((error: unknown, ...args: A) => R | Promise<R>);

/** A wrapper without a fallback (`undefined` is a valid fallback value). */
export const NO_FALLBACK = Symbol('no fallback');

/** The fallback's answer to `error` for a call with `args`. */
export async function answerFromFallback<A extends unknown[], R>(fallback: Fallback<A, R>, error: unknown, args: A, stats: ResilientStats): Promise<R> {
  let value: R;
  try {
    value = typeof fallback === 'function' ? await (fallback as (error: unknown, ...args: A) => R | Promise<R>)(error, ...args) : fallback;
  } catch (fallbackError) {
    stats.fallbackFailures++;
    throw withCause(error, fallbackError);
  }
  stats.fallbacks++;
  return value;
}

/** The original error, reported with the fallback's error as `cause` (an Error that already has
 *  a cause keeps it and gets the fallback's as `fallbackError`; a non-object is wrapped). */
function withCause(original: unknown, fallbackError: unknown): unknown {
  if (typeof original !== 'object' || original === null) return new Error(String(original), { cause: fallbackError });
  if ((original as { cause?: unknown }).cause === undefined) {
    Object.defineProperty(original, 'cause', { value: fallbackError, writable: true, configurable: true, enumerable: false });
  } else {
    Object.defineProperty(original, 'fallbackError', { value: fallbackError, writable: true, configurable: true, enumerable: false });
  }
  return original;
}
