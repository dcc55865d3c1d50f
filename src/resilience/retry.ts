/**
 * The retry policy: a failed try is tried again after an exponential backoff with jitter (the
 * rule of src/util/backoff.ts: baseMs × 2^(n−1), capped at maxMs, minus up to `jitter` of it),
 * while retries and the time budget last. Retry sits outside the breaker: each try is one breaker
 * outcome, and a try refused by an open breaker (CircuitOpenError) is never retried.
 */
import type { Clock } from '../util/clock.js';
import { type BackoffPolicy, backoffDelay } from '../util/backoff.js';
import { CircuitOpenError, ConfigError, OverloadedError } from '../util/errors.js';
import { checkObject, knownKeys, positiveNumber } from '../util/options.js';

export interface RetryPolicy {
  /** Retries after the first try (0 = none). Default 3. */
  max?: number;
  /** First backoff, ms; the n-th retry waits baseMs × 2^(n-1), capped at maxMs. Default 100. */
  baseMs?: number;
  /** Cap of one backoff, ms. Default 10000. */
  maxMs?: number;
  /** Up to this fraction of each backoff is taken off at random (0 ≤ j ≤ 1). Default 0.2. */
  jitter?: number;
  /** No retry starts later than this after the call began, ms. Default: no budget. */
  budgetMs?: number;
  /** Whether an error is worth retrying. Never asked for CircuitOpenError, OverloadedError, ConfigError, or an
   *  error with `retryable: false` (never retried). Default: every other error. */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /**
   * The wrapper's retry budget, so that retries never multiply an overload: every call earns
   * `ratio` of a retry (at most `100 × ratio` saved up), and `minPerSecond` retries a second are
   * always allowed. A retry the budget cannot pay for is not made (the error stands, or the
   * fallback answers). Default `{ ratio: 0.2, minPerSecond: 10 }`; false: no budget.
   */
  budget?: { ratio?: number; minPerSecond?: number } | false;
}

export interface ResolvedRetry {
  max: number;
  budgetMs: number;
  /** Retries earned per call, and the retries a second always allowed; null: no budget. */
  budget: { ratio: number; minPerSecond: number } | null;
  retryOn: ((error: unknown, attempt: number) => boolean) | null;
  backoff: BackoffPolicy;
}

export function resolveRetry(retry: RetryPolicy | undefined): ResolvedRetry | null {
  if (retry === undefined) return null;
  checkObject('retry', retry);
  knownKeys('retry', retry, ['max', 'baseMs', 'maxMs', 'jitter', 'budgetMs', 'retryOn', 'budget']);
  const max = retry.max === undefined ? 3 : retry.max;
  if (!Number.isInteger(max) || max < 0) throw new ConfigError('retry.max', `must be an integer ≥ 0 (got ${String(max)})`);
  const baseMs = retry.baseMs === undefined ? 100 : positiveNumber('retry.baseMs', retry.baseMs);
  const maxMs = retry.maxMs === undefined ? Math.max(10_000, baseMs) : positiveNumber('retry.maxMs', retry.maxMs);
  if (maxMs < baseMs) throw new ConfigError('retry.maxMs', `must be ≥ retry.baseMs (${baseMs}) (got ${maxMs})`);
  const jitter = retry.jitter === undefined ? 0.2 : retry.jitter;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) throw new ConfigError('retry.jitter', `must be a number in [0, 1] (got ${String(jitter)})`);
  const budgetMs = retry.budgetMs === undefined ? Infinity : positiveNumber('retry.budgetMs', retry.budgetMs);
  if (retry.retryOn !== undefined && typeof retry.retryOn !== 'function') throw new ConfigError('retry.retryOn', 'must be a function (error, attempt) => boolean');
  return { max, budgetMs, budget: resolveBudget(retry.budget), retryOn: retry.retryOn ?? null, backoff: { baseMs, maxMs, factor: 2, jitter } };
}

function resolveBudget(budget: RetryPolicy['budget']): ResolvedRetry['budget'] {
  if (budget === false) return null;
  if (budget === undefined) return { ratio: 0.2, minPerSecond: 10 };
  checkObject('retry.budget', budget);
  knownKeys('retry.budget', budget, ['ratio', 'minPerSecond']);
  const ratio = budget.ratio ?? 0.2;
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 10)) throw new ConfigError('retry.budget.ratio', `must be a number in [0, 10] (got ${String(ratio)})`);
  const minPerSecond = budget.minPerSecond ?? 10;
  if (!Number.isInteger(minPerSecond) || minPerSecond < 0) {
    throw new ConfigError('retry.budget.minPerSecond', `must be an integer ≥ 0 (got ${String(minPerSecond)})`);
  }
  return { ratio, minPerSecond };
}

/**
 * A wrapper's retry budget (Finagle's rule): calls deposit `ratio` of a retry each, a retry
 * withdraws one; `minPerSecond` retries a second come from a reserve, so a quiet target can still
 * be retried. Under an overload, when most calls fail, retries stay a fraction of the calls
 * instead of multiplying them.
 */
export class RetryBudget {
  private balance = 0;
  private readonly cap: number;
  private windowStart = Number.NEGATIVE_INFINITY;
  private reserveUsed = 0;

  constructor(private readonly budget: { ratio: number; minPerSecond: number }) {
    this.cap = Math.max(1, 100 * budget.ratio);
  }

  /** A call was made. */
  deposit(): void {
    this.balance = Math.min(this.cap, this.balance + this.budget.ratio);
  }

  /** True when a retry may be made now (and is paid for). */
  withdraw(now: number): boolean {
    if (this.balance >= 1) {
      this.balance -= 1;
      return true;
    }
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.reserveUsed = 0;
    }
    if (this.reserveUsed < this.budget.minPerSecond) {
      this.reserveUsed++;
      return true;
    }
    return false;
  }
}

/**
 * The wait before retrying after try `number` (1-based) failed with `error`, ms; -1 when there
 * is no retry: retries used up, an error not worth retrying, or a backoff ending past the budget
 * of a call that started at `startedAt`.
 */
export function retryDelayMs(retry: ResolvedRetry, error: unknown, number: number, startedAt: number, clock: Clock, random: () => number): number {
  if (number > retry.max || !retryable(retry, error, number)) return -1;
  const delay = backoffDelay(number - 1, retry.backoff, random);
  return clock.now() + delay - startedAt <= retry.budgetMs ? delay : -1;
}

function retryable(retry: ResolvedRetry, error: unknown, number: number): boolean {
  if (error instanceof CircuitOpenError || error instanceof ConfigError || error instanceof OverloadedError) return false;
  if (typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false) return false;
  return retry.retryOn === null || retry.retryOn(error, number) === true;
}

/** Waits `ms` on `clock`; rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal === undefined) return new Promise((resolve) => clock.setTimeout(resolve, ms));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
