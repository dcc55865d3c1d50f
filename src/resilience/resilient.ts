/**
 * `resilient(fn, policy)`: wraps any async function with timeout, retry, breaker, hedge and
 * fallback. `await call(...args)` runs `fn({ signal, attempt, hedge }, ...args)`.
 *
 * Composition, outermost first — one policy per file, composed here:
 *
 *     fallback( retry( breaker( timeout( hedge( fn ) ) ) ) )
 *     fallback.ts retry.ts breaker.ts timeout.ts hedge.ts, the try in try.ts
 *
 * - fallback outermost: it answers only when everything inside gave up, counted apart.
 * - retry outside the breaker: each try is one breaker outcome, so a burst of failing retries
 *   trips the breaker, and once it is open the next try meets `CircuitOpenError`, which is never
 *   retried: retries stop hammering a dead target (the order Polly recommends). An essential
 *   breaker answers from the fallback right there, without retrying.
 * - timeout outside hedge: one deadline per try, shared by its hedged attempts (see try.ts).
 * - hedge innermost, next to fn: only a latency trick (see hedge.ts).
 *
 * Hot path (breaker closed, fixed or 'auto' timeout, no hedge/retry/fallback): one field test on
 * the breaker, one object (the try, which is also fn's ctx) and one promise, an O(1) link into
 * the clock's deadline queue with no clock read (see timeout.ts), latency timed for a sample of
 * calls, and an AbortController only if `fn` reads `ctx.signal`. Nothing goes to the breaker's
 * XState machine unless a transition may follow (see breaker.ts).
 */
import type { AttemptContext } from './attempt.js';
import { Admission, Breaker, type BreakerOptions, type TransitionListener } from './breaker.js';
import { answerFromFallback, type Fallback, NO_FALLBACK } from './fallback.js';
import { hedgeDelayMs, type HedgePolicy, type ResolvedHedge, resolveHedge } from './hedge.js';
import { LatencyHistogram } from './latency.js';
import { type ResolvedRetry, RetryBudget, type RetryPolicy, resolveRetry, retryDelayMs, sleep } from './retry.js';
import { newStats, type ResilientStats } from './stats.js';
import { type AutoTimeoutPolicy, deadlinesFor, resolveAutoTimeout, sampleLatency, TimeoutRule } from './timeout.js';
import { Try, type TryHost } from './try.js';
import { type Clock, realClock } from '../util/clock.js';
import type { DeadlineQueue } from '../util/deadline-queue.js';
import { CircuitOpenError, ConfigError, OverloadedError } from '../util/errors.js';
import { type Bulkhead, type BulkheadPolicy, resolveBulkhead } from './bulkhead.js';
import { checkObject, isAbortSignal, knownKeys, positiveInteger, positiveNumber } from '../util/options.js';

export type { AttemptContext } from './attempt.js';
export type { BulkheadPolicy } from './bulkhead.js';
export type { Fallback } from './fallback.js';
export type { HedgePolicy } from './hedge.js';
export type { RetryPolicy } from './retry.js';
export type { ResilientStats } from './stats.js';
export type { AutoTimeoutPolicy } from './timeout.js';

export interface ResilientPolicy<A extends unknown[] = unknown[], R = unknown> {
  /** Names the target in errors (TimeoutError.path, CircuitOpenError.path). Default fn.name. */
  name?: string;
  /** Per-try deadline: ms, or 'auto' = multiplier × p95 clamped (see autoTimeout). Default none. */
  timeoutMs?: number | 'auto';
  autoTimeout?: AutoTimeoutPolicy;
  retry?: RetryPolicy;
  /** true: a breaker with the defaults; options: a breaker of this wrapper; a Breaker: shared. */
  breaker?: boolean | BreakerOptions | Breaker;
  hedge?: HedgePolicy;
  /** At most this many calls at once, this many more waiting; beyond: OverloadedError at once. */
  bulkhead?: BulkheadPolicy;
  /** A value, or a function of (error, ...args) — so a function value must be wrapped in one. */
  fallback?: Fallback<A, NoInfer<R>>;
  /** Deadlines, backoffs and the breaker's delays. Default realClock. */
  clock?: Clock;
  /** Uniform [0, 1) for the jitters. Default Math.random. */
  random?: () => number;
  /** Transitions of the breaker created here (ignored for a shared Breaker). */
  onTransition?: TransitionListener;
  /** Samples before p95 is trusted (auto timeouts, 'p95' hedges). Default: the breaker's (20). */
  minSamples?: number;
}

export type ResilientFunction<A extends unknown[], R> = ((...args: A) => Promise<R>) & {
  /** The breaker consulted by every try (undefined without one). */
  readonly breaker: Breaker | undefined;
  /** The latency window of the target. */
  readonly latency: LatencyHistogram;
  readonly stats: Readonly<ResilientStats>;
  /** The timeout the next try would get, ms (0 = none). */
  timeoutMs(): number;
  /** Stops the breaker created for this wrapper (a shared Breaker is left alone). */
  stop(): void;
  /**
   * The same call, cancellable by the caller: once `signal` aborts, the try in flight is
   * abandoned (its attempts' signals abort; the breaker is not told), no retry or fallback
   * follows, and the call rejects with the signal's reason. Inside an actor:
   * `await call.withSignal(ctx.signal)(order)`. An undefined signal is the plain call.
   */
  withSignal(signal: AbortSignal | undefined): (...args: A) => Promise<R>;
};

/** Shared by every call without arguments (never written to). */
const NO_ARGS: unknown[] = [];

/** One wrapper: its resolved policies, and the composition of one call. */
class Core<A extends unknown[], R> implements TryHost<A, R> {
  readonly stats: ResilientStats = newStats();
  readonly deadlines: DeadlineQueue;
  readonly timeout: TimeoutRule;
  /** timeout.fixedMs, read here on the hot path: fixed ms, 0 for none, -1 for 'auto'. */
  private readonly fixedTimeoutMs: number;
  /** Neither retry nor fallback: a call is its single try, no async wrapper. */
  private readonly direct: boolean;
  /** The retries this wrapper (one target) may still make; null without retry or budget. */
  private readonly retryBudget: RetryBudget | null;

  constructor(
    readonly fn: (ctx: AttemptContext, ...args: A) => R | PromiseLike<R>,
    readonly name: string,
    readonly clock: Clock,
    private readonly random: () => number,
    readonly breaker: Breaker | null,
    private readonly ownsBreaker: boolean,
    readonly latency: LatencyHistogram,
    timeout: number | 'auto' | undefined,
    auto: AutoTimeoutPolicy,
    private readonly minSamples: number,
    private readonly retry: ResolvedRetry | null,
    readonly hedge: ResolvedHedge | null,
    private readonly fallback: Fallback<A, R> | typeof NO_FALLBACK,
    private readonly bulkhead: Bulkhead | null = null,
  ) {
    this.deadlines = deadlinesFor(clock);
    this.timeout = new TimeoutRule(timeout, auto, breaker, latency, minSamples, clock);
    this.fixedTimeoutMs = this.timeout.fixedMs;
    this.direct = retry === null && fallback === NO_FALLBACK;
    this.retryBudget = retry?.budget ? new RetryBudget(retry.budget) : null;
  }

  hedgeDelayMs(): number {
    return hedgeDelayMs(this.hedge!, this.latency, this.minSamples);
  }

  call(args: A, signal?: AbortSignal): Promise<R> {
    this.stats.calls++;
    this.retryBudget?.deposit();
    if (this.bulkhead !== null) return this.throughBulkhead(this.bulkhead, args, signal);
    if (signal !== undefined) return this.guarded(args, signal);
    return this.direct ? this.tryOnce(args, 1) : this.guarded(args);
  }

  /** breaker( timeout( hedge( fn ) ) ) — one try. */
  tryOnce(args: A, number: number, signal?: AbortSignal): Promise<R> {
    this.stats.tries++;
    let admission: Admission = Admission.pass;
    const breaker = this.breaker;
    if (breaker !== null) {
      admission = breaker.acquire();
      if (admission === Admission.reject || admission === Admission.fallback) return this.refuse(admission, args);
    }
    const timeoutMs = this.fixedTimeoutMs >= 0 ? this.fixedTimeoutMs : this.timeout.ms();
    const hedged = this.hedge !== null;
    // hedged tries are always timed (the winner's latency is what hedging is about)
    const startedAt = hedged || sampleLatency(this.deadlines) ? this.clock.now() : -1;
    const t = new Try<A, R>(this, admission, number, startedAt, timeoutMs, args);
    const promise = new Promise<R>((resolve, reject) => {
      t.resolve = resolve;
      t.reject = reject;
    });
    if (hedged) t.attempts = [t];
    if (timeoutMs > 0) this.deadlines.add(t, timeoutMs);
    if (signal !== undefined) {
      const onAbort = () => t.abandon(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const off = () => signal.removeEventListener('abort', onAbort);
      promise.then(off, off);
    }
    t.run(t);
    if (hedged && !t.settled && this.hedge!.max > 1) t.armTrigger();
    return promise;
  }

  /** fallback( retry( … ) ). */
  private async guarded(args: A, signal?: AbortSignal): Promise<R> {
    const retry = this.retry;
    const startedAt = retry !== null ? this.clock.now() : 0;
    let number = 1;
    for (;;) {
      if (signal?.aborted) throw signal.reason; // the caller left (before a try or a retry)
      try {
        return await this.tryOnce(args, number, signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason; // no retry, no fallback for a caller that left
        let delay = retry === null ? -1 : retryDelayMs(retry, error, number, startedAt, this.clock, this.random);
        if (delay >= 0 && this.retryBudget !== null && !this.retryBudget.withdraw(this.clock.now())) {
          this.stats.retriesRefused++; // the budget is spent: retrying would multiply an overload
          delay = -1;
        }
        if (delay >= 0) {
          await sleep(this.clock, delay, signal);
          number++;
          this.stats.retries++;
          continue;
        }
        if (this.fallback === NO_FALLBACK) throw error;
        return answerFromFallback(this.fallback, error, args, this.stats);
      }
    }
  }

  /** bulkhead( retry( … ) ): a slot for the whole call, or OverloadedError at once (or the fallback). */
  private async throughBulkhead(bulkhead: Bulkhead, args: A, signal: AbortSignal | undefined): Promise<R> {
    if (signal?.aborted) throw signal.reason;
    const entered = bulkhead.enter(signal);
    if (entered === null) {
      this.stats.overloaded++;
      const error = new OverloadedError(this.name, `${bulkhead.running} calls running and ${bulkhead.queued} waiting (bulkhead full)`);
      if (this.fallback === NO_FALLBACK) throw error;
      return answerFromFallback(this.fallback, error, args, this.stats);
    }
    if (entered !== true) await entered;
    try {
      return await (signal !== undefined || !this.direct ? this.guarded(args, signal) : this.tryOnce(args, 1));
    } finally {
      bulkhead.leave();
    }
  }

  /** An open breaker refused the try: CircuitOpenError, or the fallback of an essential one. */
  private refuse(admission: Admission, args: A): Promise<R> {
    this.stats.rejected++;
    this.stats.failures++;
    const error = new CircuitOpenError(this.name);
    if (admission === Admission.fallback && this.fallback !== NO_FALLBACK) return answerFromFallback(this.fallback, error, args, this.stats);
    return Promise.reject(error);
  }

  stop(): void {
    if (this.ownsBreaker) this.breaker?.stop();
  }
}

const POLICY_KEYS = ['name', 'timeoutMs', 'autoTimeout', 'retry', 'breaker', 'hedge', 'bulkhead', 'fallback', 'clock', 'random', 'onTransition', 'minSamples'];

/**
 * Wraps `fn` with the policy (see the file header for the order). Throws ConfigError naming the
 * option for bad input: a non-function fn, thresholds ≤ 0, hedge.max > 3, unknown keys.
 * `call(...args)` takes fn's arguments after its ctx and resolves with its result.
 *
 * @example
 * ```ts
 * const place = resilient(async ({ signal }, order: Order) => exchange.post('/orders', order, { signal }), {
 *   timeoutMs: 'auto',
 *   retry: { max: 3, baseMs: 50, maxMs: 1_000, retryOn: isTransient },
 *   breaker: { failureThreshold: 5, resetTimeoutMs: 2_000 },
 *   fallback: (_error, order) => ({ status: 'queued', order }),
 * });
 * const placed = await place(order);   // place.stats, place.breaker?.state, place.stop()
 * ```
 */
export function resilient<A extends unknown[], R>(
  fn: (ctx: AttemptContext, ...args: A) => R | PromiseLike<R>,
  policy: ResilientPolicy<A, Awaited<R>> = {},
): ResilientFunction<A, Awaited<R>> {
  if (typeof fn !== 'function') throw new ConfigError('fn', `resilient() wraps a function (got ${fn === null ? 'null' : typeof fn})`);
  checkObject('policy', policy);
  knownKeys('policy', policy, POLICY_KEYS);
  const name = policy.name ?? (fn.name || 'resilient');
  if (typeof name !== 'string' || name === '') throw new ConfigError('name', 'must be a non-empty string');
  const clock = policy.clock ?? realClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
    throw new ConfigError('clock', 'must have now(), setTimeout() and clearTimeout()');
  }
  const random = policy.random ?? Math.random;
  if (typeof random !== 'function') throw new ConfigError('random', 'must be a function returning [0, 1)');
  const timeout = policy.timeoutMs;
  if (timeout !== undefined && timeout !== 'auto') positiveNumber('timeoutMs', timeout);
  const auto = resolveAutoTimeout(policy.autoTimeout);
  const retry = resolveRetry(policy.retry);
  const hedge = resolveHedge(policy.hedge);
  const minSamples = policy.minSamples === undefined ? undefined : positiveInteger('minSamples', policy.minSamples);
  if (policy.onTransition !== undefined && typeof policy.onTransition !== 'function') throw new ConfigError('onTransition', 'must be a function');

  let breaker: Breaker | null = null;
  let owns = false;
  const b = policy.breaker;
  if (b instanceof Breaker) breaker = b;
  else if (b !== undefined && b !== false) {
    if (b !== true) checkObject('breaker', b);
    const deps = { clock, random, path: name, ...(policy.onTransition ? { onTransition: policy.onTransition } : {}) };
    breaker = new Breaker(b === true ? undefined : b, deps);
    owns = true;
  }
  const hasFallback = Object.hasOwn(policy, 'fallback');
  if (breaker?.essential && !hasFallback) {
    if (owns) breaker.stop();
    throw new ConfigError('fallback', 'an essential breaker never refuses: it needs a fallback to answer with while open');
  }
  const latency = breaker?.latency ?? new LatencyHistogram();
  const core = new Core<A, Awaited<R>>(
    fn as (ctx: AttemptContext, ...args: A) => Awaited<R> | PromiseLike<Awaited<R>>,
    name,
    clock,
    random,
    breaker,
    owns,
    latency,
    timeout,
    auto,
    minSamples ?? breaker?.options.minSamples ?? 20,
    retry,
    hedge,
    hasFallback ? (policy.fallback as Fallback<A, Awaited<R>>) : NO_FALLBACK,
    resolveBulkhead(policy.bulkhead),
  );
  const call = (...args: A): Promise<Awaited<R>> => core.call(args.length === 0 ? (NO_ARGS as A) : args);
  const withSignal = (signal: AbortSignal | undefined) => {
    if (signal === undefined) return call;
    if (!isAbortSignal(signal)) throw new ConfigError('withSignal(signal)', 'must be an AbortSignal or undefined');
    return (...args: A): Promise<Awaited<R>> => core.call(args.length === 0 ? (NO_ARGS as A) : args, signal);
  };
  return Object.assign(call, {
    breaker: breaker ?? undefined,
    latency,
    stats: core.stats,
    timeoutMs: () => core.timeout.ms(),
    stop: () => core.stop(),
    withSignal,
  });
}
