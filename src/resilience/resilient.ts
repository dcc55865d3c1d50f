/**
 * `resilient(fn, policy)`: wraps any async function with timeout, retry, breaker, hedge and
 * fallback. `await call(...args)` runs `fn({ signal, attempt, hedge }, ...args)`.
 *
 * Composition, outermost first:
 *
 *     fallback( retry( breaker( timeout( hedge( fn ) ) ) ) )
 *
 * - fallback outermost: it answers only when everything inside gave up (retries exhausted or
 *   stopped, circuit open, a non-retryable error), and is counted apart (`stats.fallbacks`, a
 *   degraded success). A fallback that throws rethrows the original error, the fallback's error
 *   attached as `cause`.
 * - retry outside the breaker: each try is one breaker outcome, so a burst of failing retries
 *   trips the breaker, and once it is open the next try meets `CircuitOpenError`, which is never
 *   retried: retries stop hammering a dead target (the order Polly recommends). An essential
 *   breaker answers from the fallback right there, without retrying.
 * - timeout outside hedge: one deadline per try, shared by its hedged attempts (all aborted when it
 *   fires), and a timeout is one failure for the breaker however many attempts were racing.
 *   Timeouts also enter the latency window as a sample of the timeout value (the target took at
 *   least that long), so an 'auto' timeout that became too short grows back instead of starving.
 * - hedge innermost, next to fn: only a latency trick. When the try is still running after
 *   `afterMs` (or the window's p95), another attempt starts, up to `max` in parallel; the first
 *   success wins and the others' AbortSignals fire. Failures are not hedged (retry handles them):
 *   the try fails when every started attempt has failed.
 *
 * Latency: successful attempts (their own duration) and timeouts feed one LatencyHistogram per
 * target — the breaker's when there is one — which 'auto' timeouts, 'p95' hedges and the
 * breaker's `hedging` state all read.
 *
 * Hot path (breaker closed, fixed or 'auto' timeout, no hedge/retry/fallback): one field test on
 * the breaker, one object (the try, which is also fn's ctx) and one promise, an O(1) link into a
 * deadline list swept by one shared timer per clock (no timer per call; the idea of AskDeadlines
 * in src/ask.ts, with deadlines counted from the sweep that closes the call's epoch rather than
 * from a clock read: a timeout fires at timeoutMs, never earlier, later by at most the rest of
 * the event-loop turn the call started in plus a timer tick),
 * latency timed for a sample of calls (all of them unless one event-loop turn starts more than
 * 16), and an AbortController only if `fn` reads `ctx.signal`. Nothing goes to the breaker's
 * XState machine unless a transition may follow (see src/breaker.ts).
 */
import { Admission, autoTimeoutMs, Breaker, type BreakerOptions, type TransitionListener } from './breaker.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { CircuitOpenError, ConfigError, TimeoutError } from '../util/errors.js';
import { LatencyHistogram } from './latency.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber } from '../util/options.js';
import { LinkedList } from '../util/linked-list.js';

/** What the wrapped function gets as its first argument. */
export interface AttemptContext {
  /** Aborted on timeout (reason: the TimeoutError) or when a hedged sibling won (an AbortError).
   *  Created on first read: a function that never reads it costs no AbortController. */
  readonly signal: AbortSignal;
  /** 1 for the first try, 2 for the first retry, … */
  readonly attempt: number;
  /** 0 for the primary attempt of a try, 1 and 2 for hedged ones. */
  readonly hedge: number;
}

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
  /** Whether an error is worth retrying. Never asked for CircuitOpenError, ConfigError, or an
   *  error with `retryable: false` (never retried). Default: every other error. */
  retryOn?: (error: unknown, attempt: number) => boolean;
}

export interface HedgePolicy {
  /** Start another attempt when the try is still running after this many ms, or after the
   *  window's p95 ('p95': no hedging until the window has `minSamples` samples). */
  afterMs: number | 'p95';
  /** Attempts in parallel at most, the first included (1 … 3). Default 2. */
  max?: number;
}

export interface AutoTimeoutPolicy {
  /** Lower clamp, ms. Default 1. */
  minMs?: number;
  /** Upper clamp, ms. Default 30000. */
  maxMs?: number;
  /** Used until the window holds `minSamples` samples, ms. Default maxMs. */
  initialMs?: number;
  /** Default: the breaker's `timeoutMultiplier` (2.5). */
  multiplier?: number;
}

export type Fallback<A extends unknown[], R> = R | ((error: unknown, ...args: A) => R | Promise<R>);

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
  /** A value, or a function of (error, ...args) — so a function value must be wrapped in one. */
  fallback?: Fallback<A, R>;
  /** Deadlines, backoffs and the breaker's delays. Default realClock. */
  clock?: Clock;
  /** Uniform [0, 1) for the jitters. Default Math.random. */
  random?: () => number;
  /** Transitions of the breaker created here (ignored for a shared Breaker). */
  onTransition?: TransitionListener;
  /** Samples before p95 is trusted (auto timeouts, 'p95' hedges). Default: the breaker's (20). */
  minSamples?: number;
}

export interface ResilientStats {
  /** Calls of the wrapper. */
  calls: number;
  /** Tries started (first tries and retries). */
  tries: number;
  /** Tries that succeeded (a call succeeds iff its last try did, or its fallback answered). */
  successes: number;
  /** Tries that failed: errors, timeouts, refusals by an open breaker. */
  failures: number;
  timeouts: number;
  /** Tries refused (or short-circuited to the fallback) by an open breaker. */
  rejected: number;
  retries: number;
  /** Hedged attempts started. */
  hedges: number;
  /** Degraded successes: calls answered by the fallback. */
  fallbacks: number;
  /** Fallbacks that threw. */
  fallbackFailures: number;
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
};

// ---- Deadlines: one timer per clock, intrusive lists per duration, epochs -----------------

/**
 * A span of time between two sweeps. Entries are stamped with the open epoch instead of a clock
 * reading (a clock read costs more than the rest of a fast call); the sweep that closes the epoch
 * records its end, and an entry expires `ms` after the end of its epoch: never early (the epoch
 * ended after the entry was added), late by at most the time until that sweep, which is armed
 * with delay 0 as soon as the epoch holds an entry: the rest of the current event-loop turn plus
 * a timer tick (≈ 1 ms on Node timers; 0 on a SimulatedClock, where timeouts are exact).
 * Epochs also pace latency sampling: the first 16 tries of an epoch are timed, then one in 32.
 */
class Epoch {
  end = Infinity;
  tries = 0;
}

abstract class DeadlineEntry {
  epoch: Epoch | null = null;
  prev: DeadlineEntry | null = null;
  next: DeadlineEntry | null = null;
  list: DeadlineList | null = null;
  /** Called once the entry is unlinked because its deadline passed. */
  abstract expire(): void;
}

class DeadlineList extends LinkedList<DeadlineEntry> {
  constructor(readonly ms: number) {
    super();
  }
}

/**
 * Appending keeps each list (one per duration) sorted by deadline: add and remove are O(1). One
 * clock timer per clock serves every list: it closes the open epoch, expires what is due and
 * re-arms for the earliest deadline left. Removing an entry never touches the timer.
 */
class Deadlines {
  private readonly lists = new Map<number, DeadlineList>();
  /** The list used last (most wrappers have one fixed timeout): skips the Map lookup. */
  private last: DeadlineList | null = null;
  private current = new Epoch();
  private timer: TimerHandle | null = null;
  /** A sweep at delay 0 is armed: the open epoch will be closed. */
  private closing = false;
  /** Entries linked; at 0 a timer armed for an expiry is cancelled (it would only keep the
   *  process alive), while a pending epoch close is left alone (no timer churn per call). */
  private pending = 0;

  constructor(private readonly clock: Clock) {}

  /** Counts a try in the open epoch; true when its latency should be measured. */
  sample(): boolean {
    const n = ++this.current.tries;
    if (n <= 16) return true;
    if (!this.closing) this.armClose();
    return (n & 31) === 0;
  }

  add(entry: DeadlineEntry, ms: number): void {
    let list = this.last;
    if (list === null || list.ms !== ms) {
      list = this.lists.get(ms) ?? null;
      if (list === null) {
        list = new DeadlineList(ms);
        this.lists.set(ms, list);
      }
      this.last = list;
    }
    entry.epoch = this.current;
    entry.list = list;
    list.append(entry);
    this.pending++;
    if (!this.closing) this.armClose();
  }

  remove(entry: DeadlineEntry): void {
    entry.list!.unlink(entry);
    entry.list = null;
    if (--this.pending === 0 && !this.closing && this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private armClose(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.closing = true;
    this.timer = this.clock.setTimeout(this.sweep, 0);
  }

  private readonly sweep = (): void => {
    this.timer = null;
    this.closing = false;
    const now = this.clock.now();
    this.current.end = now;
    this.current = new Epoch();
    let earliest = Infinity;
    for (const [ms, list] of this.lists) {
      let head = list.head;
      while (head !== null && head.epoch!.end + ms <= now) {
        this.remove(head);
        head.expire(); // may add entries (a hedge re-arming): they land in the new epoch
        head = list.head;
      }
      if (head === null) {
        this.lists.delete(ms);
        if (this.last === list) this.last = null;
      }
      else if (head.epoch!.end + ms < earliest) earliest = head.epoch!.end + ms;
    }
    if (!this.closing && earliest !== Infinity) this.timer = this.clock.setTimeout(this.sweep, earliest - now);
  };
}

const deadlinesByClock = new WeakMap<Clock, Deadlines>();

function deadlinesFor(clock: Clock): Deadlines {
  let deadlines = deadlinesByClock.get(clock);
  if (deadlines === undefined) {
    deadlines = new Deadlines(clock);
    deadlinesByClock.set(clock, deadlines);
  }
  return deadlines;
}

// ---- One attempt, one try ------------------------------------------------------------

/**
 * The `ctx` of one run of fn; its AbortController is made on first read of `signal`. It is a
 * DeadlineEntry because the primary attempt of a try is the Try itself (one object per call on
 * the hot path); hedged attempts are plain Attempts and leave the entry fields unused.
 */
class Attempt extends DeadlineEntry implements AttemptContext {
  private controller: AbortController | null = null;
  private abortReason: unknown = undefined;
  aborted = false;
  /** Its fn run has settled (a settled loser is not aborted). */
  done = false;

  constructor(
    readonly attempt: number,
    readonly hedge: number,
    /** Clock reading at start, or -1 when this attempt's latency is not sampled. */
    readonly startedAt: number,
  ) {
    super();
  }

  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === null) {
      controller = this.controller = new AbortController();
      if (this.aborted) controller.abort(this.abortReason);
    }
    return controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    if (this.controller !== null) this.controller.abort(reason);
  }

  expire(): void {}
}

function lostRace(): unknown {
  return new DOMException('a hedged sibling attempt succeeded first', 'AbortError');
}

/** fn(ctx, ...args) without a spread for the common arities. */
function invoke<R>(fn: (ctx: AttemptContext, ...args: unknown[]) => R, ctx: AttemptContext, args: unknown[]): R {
  switch (args.length) {
    case 0:
      return fn(ctx);
    case 1:
      return fn(ctx, args[0]);
    case 2:
      return fn(ctx, args[0], args[1]);
    default:
      return fn(ctx, ...args);
  }
}

/** The hedge timer of a try: starts the next attempt when it fires. */
class HedgeTrigger extends DeadlineEntry {
  constructor(private readonly owner: { hedgeNow(): void }) {
    super();
  }
  expire(): void {
    this.owner.hedgeNow();
  }
}

/** One try: breaker admission, deadline, and its attempts. The Try is its own primary attempt
 *  (the `ctx` fn gets); hedged attempts, when the policy hedges, are extra Attempts. */
class Try<A extends unknown[], R> extends Attempt {
  resolve!: (value: R) => void;
  reject!: (error: unknown) => void;
  settled = false;
  /** Every attempt, this one first, when the policy hedges. */
  attempts: Attempt[] | null = null;
  running = 0;
  trigger: HedgeTrigger | null = null;

  constructor(
    readonly core: Core<A, R>,
    readonly admission: Admission,
    attempt: number,
    startedAt: number,
    readonly timeoutMs: number,
    readonly args: A,
  ) {
    super(attempt, 0, startedAt);
  }

  /** Runs fn once more for this try (the primary attempt or a hedge). */
  run(attempt: Attempt): void {
    this.running++;
    let result: R | PromiseLike<R>;
    try {
      result = invoke(this.core.fn as (ctx: AttemptContext, ...args: unknown[]) => R | PromiseLike<R>, attempt, this.args);
    } catch (error) {
      this.fail(error, attempt);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<R>).then === 'function') {
      (result as PromiseLike<R>).then(
        (value) => this.succeed(value, attempt),
        (error) => this.fail(error, attempt),
      );
    } else this.succeed(result as R, attempt);
  }

  succeed(value: R, attempt: Attempt): void {
    attempt.done = true;
    if (this.settled) return;
    this.settled = true;
    const core = this.core;
    if (this.list !== null) core.deadlines.remove(this);
    const latencyMs = attempt.startedAt >= 0 ? core.clock.now() - attempt.startedAt : -1;
    if (core.breaker !== null) core.breaker.success(latencyMs, this.admission);
    else if (latencyMs >= 0) core.latency.record(latencyMs);
    core.stats.successes++;
    if (this.attempts !== null) this.endHedging(attempt);
    this.resolve(value);
  }

  fail(error: unknown, attempt: Attempt): void {
    attempt.done = true;
    if (this.settled) return;
    if (--this.running > 0) return; // a hedged sibling may still succeed
    this.settled = true;
    const core = this.core;
    if (this.list !== null) core.deadlines.remove(this);
    if (core.breaker !== null) core.breaker.failure(this.admission);
    core.stats.failures++;
    if (this.attempts !== null) this.endHedging(null);
    this.reject(error);
  }

  /** The deadline passed: a failure for the breaker, every attempt aborted. */
  override expire(): void {
    if (this.settled) return;
    this.settled = true;
    const core = this.core;
    core.latency.record(this.timeoutMs); // censored sample: the target took at least this long
    if (core.breaker !== null) core.breaker.failure(this.admission);
    core.stats.failures++;
    core.stats.timeouts++;
    const error = new TimeoutError(core.name, this.timeoutMs);
    error.message = `${core.name} timed out after ${this.timeoutMs} ms`;
    if (this.attempts !== null) {
      this.cancelTrigger();
      for (const attempt of this.attempts) attempt.abort(error);
    } else this.abort(error);
    this.reject(error);
  }

  /** Hedge timer fired: one more attempt, and re-arm while under `max`. */
  hedgeNow(): void {
    this.trigger = null;
    if (this.settled) return;
    const core = this.core;
    const attempts = this.attempts!;
    if (attempts.length >= core.hedge!.max) return;
    const attempt = new Attempt(this.attempt, attempts.length, core.clock.now());
    attempts.push(attempt);
    core.stats.hedges++;
    this.run(attempt);
    if (!this.settled && attempts.length < core.hedge!.max) this.armTrigger();
  }

  armTrigger(): void {
    const after = this.core.hedgeDelayMs();
    if (after === Infinity) return;
    this.trigger = new HedgeTrigger(this);
    this.core.deadlines.add(this.trigger, after);
  }

  private cancelTrigger(): void {
    if (this.trigger !== null) {
      if (this.trigger.list !== null) this.core.deadlines.remove(this.trigger);
      this.trigger = null;
    }
  }

  private endHedging(winner: Attempt | null): void {
    this.cancelTrigger();
    if (winner === null) return;
    for (const attempt of this.attempts!) if (attempt !== winner && !attempt.done) attempt.abort(lostRace());
  }
}

// ---- The wrapper ---------------------------------------------------------------------

interface ResolvedRetry {
  max: number;
  baseMs: number;
  maxMs: number;
  jitter: number;
  budgetMs: number;
  retryOn: ((error: unknown, attempt: number) => boolean) | null;
}

interface ResolvedHedge {
  afterMs: number | 'p95';
  max: number;
}

const NO_FALLBACK = Symbol('no fallback');
/** Shared by every call without arguments (never written to). */
const NO_ARGS: unknown[] = [];

class Core<A extends unknown[], R> {
  readonly stats: ResilientStats = {
    calls: 0,
    tries: 0,
    successes: 0,
    failures: 0,
    timeouts: 0,
    rejected: 0,
    retries: 0,
    hedges: 0,
    fallbacks: 0,
    fallbackFailures: 0,
  };
  readonly deadlines: Deadlines;
  /** Fixed timeout in ms, 0 for none, -1 for 'auto'. */
  private readonly fixedTimeoutMs: number;
  private readonly auto: { minMs: number; maxMs: number; initialMs: number; multiplier: number };
  private readonly minSamples: number;
  /** Neither retry nor fallback: a call is its single try, no async wrapper. */
  private readonly direct: boolean;

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
    minSamples: number | undefined,
    private readonly retry: ResolvedRetry | null,
    readonly hedge: ResolvedHedge | null,
    private readonly fallback: Fallback<A, R> | typeof NO_FALLBACK,
  ) {
    this.deadlines = deadlinesFor(clock);
    this.fixedTimeoutMs = timeout === undefined ? 0 : timeout === 'auto' ? -1 : timeout;
    const multiplier = auto.multiplier ?? breaker?.options.timeoutMultiplier ?? 2.5;
    const maxMs = auto.maxMs ?? 30_000;
    this.auto = { minMs: auto.minMs ?? 1, maxMs, initialMs: auto.initialMs ?? maxMs, multiplier };
    this.minSamples = minSamples ?? breaker?.options.minSamples ?? 20;
    this.direct = retry === null && fallback === NO_FALLBACK;
  }

  timeoutMs(): number {
    const fixed = this.fixedTimeoutMs;
    if (fixed >= 0) return fixed;
    const a = this.auto;
    return autoTimeoutMs(this.latency, a.multiplier, a.minMs, a.maxMs, a.initialMs, this.minSamples);
  }

  hedgeDelayMs(): number {
    const after = this.hedge!.afterMs;
    if (after !== 'p95') return after;
    if (this.latency.count < this.minSamples) return Infinity;
    return Math.max(1, Math.ceil(this.latency.p95));
  }

  call(args: A): Promise<R> {
    this.stats.calls++;
    return this.direct ? this.tryOnce(args, 1) : this.guarded(args);
  }

  /** breaker( timeout( hedge( fn ) ) ) — one try. */
  tryOnce(args: A, number: number): Promise<R> {
    this.stats.tries++;
    let admission: Admission = Admission.pass;
    const breaker = this.breaker;
    if (breaker !== null) {
      admission = breaker.acquire();
      if (admission === Admission.reject || admission === Admission.fallback) return this.refuse(admission, args);
    }
    const timeoutMs = this.fixedTimeoutMs >= 0 ? this.fixedTimeoutMs : this.timeoutMs();
    const hedged = this.hedge !== null;
    // hedged tries are always timed (the winner's latency is what hedging is about)
    const startedAt = hedged || this.deadlines.sample() ? this.clock.now() : -1;
    const t = new Try<A, R>(this, admission, number, startedAt, timeoutMs, args);
    const promise = new Promise<R>((resolve, reject) => {
      t.resolve = resolve;
      t.reject = reject;
    });
    if (hedged) t.attempts = [t];
    if (timeoutMs > 0) this.deadlines.add(t, timeoutMs);
    t.run(t);
    if (hedged && !t.settled && this.hedge!.max > 1) t.armTrigger();
    return promise;
  }

  /** fallback( retry( … ) ). */
  private async guarded(args: A): Promise<R> {
    const retry = this.retry;
    const startedAt = retry !== null ? this.clock.now() : 0;
    let number = 1;
    for (;;) {
      try {
        return await this.tryOnce(args, number);
      } catch (error) {
        if (retry !== null && number <= retry.max && this.retryable(retry, error, number)) {
          const delay = this.backoffMs(retry, number);
          if (this.clock.now() + delay - startedAt <= retry.budgetMs) {
            await this.sleep(delay);
            number++;
            this.stats.retries++;
            continue;
          }
        }
        if (this.fallback === NO_FALLBACK) throw error;
        return this.useFallback(error, args);
      }
    }
  }

  private retryable(retry: ResolvedRetry, error: unknown, number: number): boolean {
    if (error instanceof CircuitOpenError || error instanceof ConfigError) return false;
    if (typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false) return false;
    return retry.retryOn === null || retry.retryOn(error, number) === true;
  }

  /** Backoff before retry n (1-based): baseMs × 2^(n-1), capped, minus up to `jitter` of it. */
  private backoffMs(retry: ResolvedRetry, n: number): number {
    const nominal = Math.min(retry.maxMs, retry.baseMs * 2 ** (n - 1));
    return nominal * (1 - retry.jitter * this.random());
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  private refuse(admission: Admission, args: A): Promise<R> {
    this.stats.rejected++;
    this.stats.failures++;
    const error = new CircuitOpenError(this.name);
    if (admission === Admission.fallback && this.fallback !== NO_FALLBACK) return this.useFallback(error, args);
    return Promise.reject(error);
  }

  private async useFallback(error: unknown, args: A): Promise<R> {
    const fallback = this.fallback as Fallback<A, R>;
    let value: R;
    try {
      value = typeof fallback === 'function' ? await (fallback as (error: unknown, ...args: A) => R | Promise<R>)(error, ...args) : fallback;
    } catch (fallbackError) {
      this.stats.fallbackFailures++;
      throw withCause(error, fallbackError);
    }
    this.stats.fallbacks++;
    return value;
  }

  stop(): void {
    if (this.ownsBreaker) this.breaker?.stop();
  }
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

// ---- Validation ----------------------------------------------------------------------

const POLICY_KEYS = ['name', 'timeoutMs', 'autoTimeout', 'retry', 'breaker', 'hedge', 'fallback', 'clock', 'random', 'onTransition', 'minSamples'];

function resolveRetry(retry: RetryPolicy | undefined): ResolvedRetry | null {
  if (retry === undefined) return null;
  checkObject('retry', retry);
  knownKeys('retry', retry, ['max', 'baseMs', 'maxMs', 'jitter', 'budgetMs', 'retryOn']);
  const max = retry.max === undefined ? 3 : retry.max;
  if (!Number.isInteger(max) || max < 0) throw new ConfigError('retry.max', `must be an integer ≥ 0 (got ${String(max)})`);
  const baseMs = retry.baseMs === undefined ? 100 : positiveNumber('retry.baseMs', retry.baseMs);
  const maxMs = retry.maxMs === undefined ? Math.max(10_000, baseMs) : positiveNumber('retry.maxMs', retry.maxMs);
  if (maxMs < baseMs) throw new ConfigError('retry.maxMs', `must be ≥ retry.baseMs (${baseMs}) (got ${maxMs})`);
  const jitter = retry.jitter === undefined ? 0.2 : retry.jitter;
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) throw new ConfigError('retry.jitter', `must be a number in [0, 1] (got ${String(jitter)})`);
  const budgetMs = retry.budgetMs === undefined ? Infinity : positiveNumber('retry.budgetMs', retry.budgetMs);
  if (retry.retryOn !== undefined && typeof retry.retryOn !== 'function') throw new ConfigError('retry.retryOn', 'must be a function (error, attempt) => boolean');
  return { max, baseMs, maxMs, jitter, budgetMs, retryOn: retry.retryOn ?? null };
}

function resolveHedge(hedge: HedgePolicy | undefined): ResolvedHedge | null {
  if (hedge === undefined) return null;
  checkObject('hedge', hedge);
  knownKeys('hedge', hedge, ['afterMs', 'max']);
  const afterMs = hedge.afterMs === 'p95' ? 'p95' : positiveNumber('hedge.afterMs', hedge.afterMs);
  const max = hedge.max === undefined ? 2 : positiveInteger('hedge.max', hedge.max);
  if (max > 3) throw new ConfigError('hedge.max', `must be at most 3 attempts in parallel (got ${max})`);
  return { afterMs, max };
}

function resolveAuto(auto: AutoTimeoutPolicy | undefined): AutoTimeoutPolicy {
  if (auto === undefined) return {};
  checkObject('autoTimeout', auto);
  knownKeys('autoTimeout', auto, ['minMs', 'maxMs', 'initialMs', 'multiplier']);
  const out: AutoTimeoutPolicy = {};
  if (auto.minMs !== undefined) out.minMs = positiveNumber('autoTimeout.minMs', auto.minMs);
  if (auto.maxMs !== undefined) out.maxMs = positiveNumber('autoTimeout.maxMs', auto.maxMs);
  if (auto.initialMs !== undefined) out.initialMs = positiveNumber('autoTimeout.initialMs', auto.initialMs);
  if (auto.multiplier !== undefined) out.multiplier = positiveNumber('autoTimeout.multiplier', auto.multiplier);
  if ((out.minMs ?? 1) > (out.maxMs ?? 30_000)) throw new ConfigError('autoTimeout.maxMs', `must be ≥ autoTimeout.minMs (got ${out.maxMs ?? 30_000} < ${out.minMs})`);
  return out;
}

/**
 * Wraps `fn` with the policy (see the file header for the order). Throws ConfigError naming the
 * option for bad input: a non-function fn, thresholds ≤ 0, hedge.max > 3, unknown keys.
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
  const auto = resolveAuto(policy.autoTimeout);
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
    minSamples,
    retry,
    hedge,
    hasFallback ? (policy.fallback as Fallback<A, Awaited<R>>) : NO_FALLBACK,
  );
  const call = (...args: A): Promise<Awaited<R>> => core.call(args.length === 0 ? (NO_ARGS as A) : args);
  return Object.assign(call, {
    breaker: breaker ?? undefined,
    latency,
    stats: core.stats,
    timeoutMs: () => core.timeoutMs(),
    stop: () => core.stop(),
  });
}
