/**
 * One try: breaker( timeout( hedge( fn ) ) ). The breaker has admitted it (its admission is kept
 * to report the outcome); it runs fn once, or several times in parallel when hedged, and ends at
 * the first success, when every attempt failed, or at its deadline.
 *
 * - timeout outside hedge: one deadline per try, shared by its hedged attempts (all aborted when
 *   it fires), and a timeout is one failure for the breaker however many attempts were racing.
 *   Timeouts also enter the latency window as a sample of the timeout value (the target took at
 *   least that long), so an 'auto' timeout that became too short grows back instead of starving.
 * - Latency: successful attempts (their own duration — from when a service took them, when an
 *   actor's ask reports it: see ServiceObserver) feed one LatencyHistogram per target — the
 *   breaker's when there is one — which 'auto' timeouts, 'p95' hedges and the breaker's
 *   `hedging` state all read.
 *
 * Hot path (no hedge): the Try is the call's only object — its own primary attempt (fn's ctx)
 * and its own entry in the deadline queue.
 */
import { Attempt, type AttemptContext, invoke, lostRace } from './attempt.js';
import type { Admission, Breaker } from './breaker.js';
import { HedgeTrigger, type ResolvedHedge } from './hedge.js';
import type { LatencyHistogram } from './latency.js';
import type { ResilientStats } from './stats.js';
import type { Clock } from '../util/clock.js';
import type { DeadlineQueue } from '../util/deadline-queue.js';
import { TimeoutError } from '../util/errors.js';

/** What a try needs of its wrapper (resilient.ts). */
export interface TryHost<A extends unknown[], R> {
  readonly fn: (ctx: AttemptContext, ...args: A) => R | PromiseLike<R>;
  readonly name: string;
  readonly clock: Clock;
  readonly breaker: Breaker | null;
  readonly latency: LatencyHistogram;
  readonly stats: ResilientStats;
  readonly deadlines: DeadlineQueue;
  readonly hedge: ResolvedHedge | null;
  /** fixedMs < 0: the timeout is 'auto'. */
  readonly timeout: { readonly fixedMs: number };
  /** When the next hedged attempt is due, ms (Infinity: no hedging yet). */
  hedgeDelayMs(): number;
}

export class Try<A extends unknown[], R> extends Attempt {
  resolve!: (value: R) => void;
  reject!: (error: unknown) => void;
  settled = false;
  /** Every attempt, this one first, when the policy hedges. */
  attempts: Attempt[] | null = null;
  running = 0;
  trigger: HedgeTrigger | null = null;

  constructor(
    readonly host: TryHost<A, R>,
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
      result = invoke(this.host.fn as (ctx: AttemptContext, ...args: unknown[]) => R | PromiseLike<R>, attempt, this.args);
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
    const host = this.host;
    if (this.list !== null) host.deadlines.remove(this);
    const startedAt = attempt.startedAt;
    const latencyMs = startedAt >= 0 ? host.clock.now() - (attempt.servedAt >= 0 ? attempt.servedAt : startedAt) : -1;
    if (host.breaker !== null) host.breaker.success(latencyMs, this.admission);
    else if (latencyMs >= 0) host.latency.record(latencyMs);
    host.stats.successes++;
    if (this.attempts !== null) this.endHedging(attempt);
    this.resolve(value);
  }

  fail(error: unknown, attempt: Attempt): void {
    attempt.done = true;
    if (this.settled) return;
    if (--this.running > 0) return; // a hedged sibling may still succeed
    this.settled = true;
    const host = this.host;
    if (this.list !== null) host.deadlines.remove(this);
    if (host.breaker !== null) host.breaker.failed(error, this.admission); // counted unless its `handle` says no
    host.stats.failures++;
    if (this.attempts !== null) this.endHedging(null);
    this.reject(error);
  }

  /**
   * An ask made for the primary attempt waits in a mailbox: an 'auto' timeout pauses — it bounds
   * service time, not the queue (which admission control and the ask's own deadline bound).
   */
  override serviceQueued(): void {
    if (!this.settled && this.list !== null && this.host.timeout.fixedMs < 0) this.host.deadlines.remove(this);
  }

  /** A handler took that ask: latency counts from now, and an 'auto' timeout starts afresh. */
  override serviceStarted(at: number): void {
    if (this.settled) return;
    this.servedAt = at;
    if (this.timeoutMs > 0 && this.host.timeout.fixedMs < 0) {
      if (this.list !== null) this.host.deadlines.remove(this);
      this.host.deadlines.add(this, this.timeoutMs);
    }
  }

  /** The deadline passed: a failure for the breaker, every attempt aborted. */
  override expire(): void {
    if (this.settled) return;
    this.settled = true;
    const host = this.host;
    host.latency.record(this.timeoutMs); // censored sample: the target took at least this long
    const error = new TimeoutError(host.name, this.timeoutMs);
    error.message = `${host.name} timed out after ${this.timeoutMs} ms`;
    if (host.breaker !== null) host.breaker.failed(error, this.admission);
    host.stats.failures++;
    host.stats.timeouts++;
    if (this.attempts !== null) {
      this.cancelTrigger();
      for (const attempt of this.attempts) attempt.abort(error);
    } else this.abort(error);
    this.reject(error);
  }

  /**
   * The caller gave up (its signal, see `call.withSignal`): every attempt is aborted, and the
   * breaker learns nothing — its admission is released, as for an ask whose caller left.
   */
  abandon(reason: unknown): void {
    if (this.settled) return;
    this.settled = true;
    const host = this.host;
    if (this.list !== null) host.deadlines.remove(this);
    host.breaker?.release(this.admission);
    if (this.attempts !== null) {
      this.cancelTrigger();
      for (const attempt of this.attempts) if (!attempt.done) attempt.abort(reason);
    } else this.abort(reason);
    this.reject(reason);
  }

  // ---- hedging ----

  /** Hedge timer fired: one more attempt, and re-arm while under `max`. */
  hedgeNow(): void {
    this.trigger = null;
    if (this.settled) return;
    const host = this.host;
    const attempts = this.attempts!;
    if (attempts.length >= host.hedge!.max) return;
    const attempt = new Attempt(this.attempt, attempts.length, host.clock.now());
    attempts.push(attempt);
    host.stats.hedges++;
    this.run(attempt);
    if (!this.settled && attempts.length < host.hedge!.max) this.armTrigger();
  }

  armTrigger(): void {
    const after = this.host.hedgeDelayMs();
    if (after === Infinity) return;
    this.trigger = new HedgeTrigger(this);
    this.host.deadlines.add(this.trigger, after);
  }

  private cancelTrigger(): void {
    if (this.trigger !== null) {
      if (this.trigger.list !== null) this.host.deadlines.remove(this.trigger);
      this.trigger = null;
    }
  }

  private endHedging(winner: Attempt | null): void {
    this.cancelTrigger();
    if (winner === null) return;
    for (const attempt of this.attempts!) if (attempt !== winner && !attempt.done) attempt.abort(lostRace());
  }
}
