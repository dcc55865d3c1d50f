/**
 * The circuit breaker: `Breaker`, the small runtime object that callers consult on every call,
 * driving `breakerMachine` (breaker-machine.ts, the states and their rules; options in
 * breaker-options.ts). Everything breaker-related is exported from here.
 *
 * Hot path: `Breaker` mirrors the state and the consecutive-failure count in plain fields, updated
 * by a subscription to the actor. `acquire()` in `closed`/`hedging` is one field test, and
 * `success()` there records the latency and sends nothing unless a failure is pending (then one
 * SUCCESS resets the count) or the cached p95 crosses the hedging threshold (one LATENCY event).
 * Failures, probes and every non-closed decision go through the machine: they are rare.
 *
 * `handle(error)` is asked here (`failed`), before anything is counted: an error it rejects is a
 * call without a verdict (`release`). With `failureRateThreshold`, the Breaker keeps the rate
 * window — ten time buckets of windowMs / 10 on its clock, O(1) per call: one clock read and two
 * counter updates — and sends RATE only when the rate reaches the threshold (the machine opens);
 * with the rate alone (no `failureThreshold`), failures send nothing else while closed. The
 * window is emptied when the breaker opens and when `reset()` is called, so a breaker that
 * closes again starts from a clean window.
 *
 * Transitions are visible with XState's `inspect` option and through
 * `onTransition(from, to, breaker)`.
 */
import { createActor, type InspectionEvent, type Observer } from 'xstate';
import { type BreakerActor, type BreakerContext, breakerMachine, type BreakerSnapshot, fastAgain, rateReached, tooSlow } from './breaker-machine.js';
import { type BreakerOptions, type BreakerState, breakerOptions, type ResolvedBreakerOptions } from './breaker-options.js';
import { LatencyHistogram } from './latency.js';
import { backgroundClock, type Clock, realClock } from '../util/clock.js';
import { OverloadedError } from '../util/errors.js';

export {
  type BreakerActor,
  type BreakerContext,
  type BreakerEvent,
  type BreakerInput,
  breakerMachine,
  type BreakerSnapshot,
  nominalResetMs,
  rateReached,
} from './breaker-machine.js';
export { BREAKER_DEFAULTS, type BreakerOptions, breakerOptions, type BreakerState, type ResolvedBreakerOptions } from './breaker-options.js';

export const Admission = {
  /** Closed or hedging: go ahead. */
  pass: 0,
  /** Half-open: go ahead as a probe; report the outcome with this admission. */
  probe: 1,
  /** Open (or no probe slot) and essential: answer from the fallback. */
  fallback: 2,
  /** Open (or no probe slot): refuse with CircuitOpenError. */
  reject: 3,
} as const;
export type Admission = (typeof Admission)[keyof typeof Admission];

export type TransitionListener = (from: BreakerState, to: BreakerState, breaker: Breaker) => void;

export interface BreakerDeps {
  /** Runs the reset delays (the system clock; a SimulatedClock in tests). Default realClock. */
  clock?: Clock;
  /** The target's name, for errors and published transitions. Default 'breaker'. */
  path?: string;
  /** Called after every state change (the owner wires it to the bus as `breaker.<to>`). */
  onTransition?: TransitionListener;
  /** Uniform [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
  /** XState inspection observer (sees every event and snapshot of the machine). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** The shared latency window; default a new one of `latencyWindow` samples. */
  latency?: LatencyHistogram;
}

/**
 * A circuit breaker: runs a `breakerMachine` actor and mirrors its state for the hot path.
 * Actors get one on their first ask; give one to several resilient() wrappers to share it.
 * `trip()` / `reset()` force it open or closed; `stop()` cancels a pending reset.
 *
 * @example
 * ```ts
 * const exchangeBreaker = new Breaker({ failureThreshold: 5, resetTimeoutMs: 2_000 }, { path: 'exchange' });
 * const place = resilient(placeOrder, { breaker: exchangeBreaker });    // both wrappers share it
 * const cancel = resilient(cancelOrder, { breaker: exchangeBreaker });
 * if (exchangeBreaker.state === 'open') console.warn('exchange down');
 * ```
 */
export class Breaker {
  readonly options: ResolvedBreakerOptions;
  readonly path: string;
  readonly actor: BreakerActor;
  /** Observed latency of successful calls (shared with 'auto' timeouts and hedging). */
  readonly latency: LatencyHistogram;
  /** Mirror of the machine's state, updated synchronously on every transition. */
  state: BreakerState = 'closed';
  onTransition: TransitionListener | null;
  /** closed or hedging: calls pass without consulting the machine. */
  private passing = true;
  /** Mirror of context.failures: a success must reset it in the machine when > 0. */
  private failures = 0;
  private readonly watchLatency: boolean;
  /** `failureThreshold` is finite: failures while closed go to the machine as FAILURE. */
  private readonly countRule: boolean;
  /** The failure-rate window, with `failureRateThreshold` only. */
  private readonly window: RateWindow | null;
  private readonly handle: ((error: unknown) => boolean) | undefined;
  private readonly clock: Clock;

  constructor(options?: BreakerOptions, deps: BreakerDeps = {}) {
    this.options = breakerOptions(options);
    this.path = deps.path ?? 'breaker';
    this.onTransition = deps.onTransition ?? null;
    this.latency = deps.latency ?? new LatencyHistogram({ window: this.options.latencyWindow });
    this.watchLatency = this.options.hedgeAfterMs !== undefined;
    this.countRule = this.options.failureThreshold !== Infinity;
    this.window = this.options.failureRateThreshold === undefined ? null : new RateWindow(this.options.windowMs);
    this.handle = this.options.handle;
    this.clock = deps.clock ?? realClock;
    this.actor = createActor(breakerMachine, {
      input: { options: this.options, random: deps.random ?? Math.random },
      clock: backgroundClock(this.clock), // reset delays never hold a host's event loop open
      ...(deps.inspect ? { inspect: deps.inspect } : {}),
    });
    this.actor.subscribe((snapshot) => this.sync(snapshot));
    this.actor.start();
  }

  get essential(): boolean {
    return this.options.essential;
  }

  /** closed or hedging. */
  get passes(): boolean {
    return this.passing;
  }

  /** May this call proceed? One field test while closed/hedging. */
  acquire(): Admission {
    return this.passing ? Admission.pass : this.acquireSlow();
  }

  /** A call admitted with `admission` succeeded after `latencyMs` (negative: not timed, the
   *  latency window is left alone — callers may time only a sample of their calls). */
  success(latencyMs: number, admission: Admission = Admission.pass): void {
    const timed = latencyMs >= 0;
    if (timed) this.latency.record(latencyMs);
    if (this.passing && admission === Admission.pass) {
      if (this.failures !== 0) this.actor.send({ type: 'SUCCESS' });
      if (timed && this.watchLatency) this.checkLatency();
      if (this.window !== null) this.recordCall(false); // enough calls may now make the rate count
      return;
    }
    if (admission === Admission.probe) this.actor.send({ type: 'SUCCESS', probe: true });
    // a pass admitted before the breaker left closed: its verdict is stale, ignored
  }

  /**
   * A call admitted with `admission` failed with `error` (a TimeoutError for a timeout): a
   * failure when `handle` counts it (or there is none), else released as a call without verdict.
   * An OverloadedError never counts.
   */
  failed(error: unknown, admission: Admission = Admission.pass): void {
    // A refusal as overloaded (admission control, a bulkhead downstream) says the target is
    // busy, not broken: opening on it would turn a burst into an outage. Never counted.
    if (error instanceof OverloadedError) this.release(admission);
    else if (this.handle === undefined || this.counts(error)) this.failure(admission);
    else this.release(admission);
  }

  /** Whether `handle` counts `error` against the breaker; a `handle` that throws counts it. */
  counts(error: unknown): boolean {
    const handle = this.handle;
    if (handle === undefined) return true;
    try {
      return handle(error) !== false;
    } catch {
      return true; // a broken filter must not hide failures, nor break the caller
    }
  }

  /** A call admitted with `admission` failed, and counts (callers with an error use `failed`). */
  failure(admission: Admission = Admission.pass): void {
    if (this.passing) {
      if (admission !== Admission.pass) return; // a probe's late verdict after the breaker closed
      if (this.countRule) this.actor.send({ type: 'FAILURE' });
      if (this.window !== null && this.passing) this.recordCall(true);
    } else if (admission === Admission.probe) this.actor.send({ type: 'FAILURE', probe: true });
  }

  /** A call ended without a verdict (its caller gave up): frees a probe slot. */
  release(admission: Admission): void {
    if (admission === Admission.probe) this.actor.send({ type: 'RELEASE', probe: true });
  }

  /** Opens the breaker now (operator override). */
  trip(): void {
    this.actor.send({ type: 'TRIP' });
  }

  /** Closes the breaker now and forgets the failures counted so far (operator override). */
  reset(): void {
    this.actor.send({ type: 'RESET' });
    this.window?.clear();
  }

  /** Calls and failures in the failure-rate window now (zeros without `failureRateThreshold`). */
  windowCounts(): { calls: number; failures: number } {
    const window = this.window;
    if (window === null) return { calls: 0, failures: 0 };
    window.advance(this.clock.now());
    return { calls: window.calls, failures: window.failures };
  }

  /** `timeoutMultiplier` × p95, clamped to [minMs, maxMs]; `initialMs` until `minSamples` samples. */
  autoTimeoutMs(minMs: number, maxMs: number, initialMs = maxMs): number {
    return autoTimeoutMs(this.latency, this.options.timeoutMultiplier, minMs, maxMs, initialMs, this.options.minSamples);
  }

  /** Context of the machine (counters, current reset delay) — for inspection and tests. */
  get context(): Readonly<BreakerContext> {
    return this.actor.getSnapshot().context;
  }

  /** Stops the machine (cancels a pending reset). */
  stop(): void {
    this.actor.stop();
  }

  private acquireSlow(): Admission {
    if (this.state === 'halfOpen') {
      const before = this.actor.getSnapshot().context.probes;
      this.actor.send({ type: 'PROBE' });
      if (this.actor.getSnapshot().context.probes > before) return Admission.probe;
    }
    return this.options.essential ? Admission.fallback : Admission.reject;
  }

  private checkLatency(): void {
    const latency = this.latency;
    const samples = latency.count;
    if (samples < this.options.minSamples) return;
    const p95 = latency.p95;
    if (this.state === 'closed' ? tooSlow(this.options, p95, samples) : fastAgain(this.options, p95)) {
      this.actor.send({ type: 'LATENCY', p95, samples });
    }
  }

  /** One more call ended while closed/hedging; RATE when the window's failure rate now opens. */
  private recordCall(failed: boolean): void {
    const window = this.window!;
    window.record(this.clock.now(), failed);
    if (rateReached(this.options, window.failures, window.calls)) {
      this.actor.send({ type: 'RATE', failures: window.failures, calls: window.calls });
    }
  }

  private sync(snapshot: BreakerSnapshot): void {
    this.failures = snapshot.context.failures;
    const to = snapshot.value as BreakerState;
    const from = this.state;
    if (to === from) return;
    this.state = to;
    this.passing = to === 'closed' || to === 'hedging';
    // Opening forgets the window (nothing is recorded until the breaker closes again).
    if (!this.passing) this.window?.clear();
    const listener = this.onTransition;
    if (listener !== null) {
      try {
        listener(from, to, this);
      } catch {
        // a listener's error must not break the breaker (nor XState's subscription)
      }
    }
  }
}

/** `multiplier` × p95 of `latency`, rounded up, clamped to [minMs, maxMs]; `initialMs` until
 *  the window holds `minSamples` samples. */
export function autoTimeoutMs(latency: LatencyHistogram, multiplier: number, minMs: number, maxMs: number, initialMs: number, minSamples: number): number {
  if (latency.count < minSamples) return initialMs;
  const ms = Math.ceil(multiplier * latency.p95);
  return ms < minMs ? minMs : Math.min(ms, maxMs);
}

const WINDOW_BUCKETS = 10;

/**
 * Calls and failures that ended in the last windowMs: a ring of WINDOW_BUCKETS buckets of
 * windowMs / WINDOW_BUCKETS each, with running totals. Moving to a new bucket empties the buckets
 * that fell out of the window (at most WINDOW_BUCKETS of them), so recording a call is O(1).
 */
class RateWindow {
  calls = 0;
  failures = 0;
  private readonly bucketCalls = new Float64Array(WINDOW_BUCKETS);
  private readonly bucketFailures = new Float64Array(WINDOW_BUCKETS);
  private readonly bucketMs: number;
  /** Index of the current bucket, and its number on the clock (floor(now / bucketMs)). */
  private head = 0;
  private epoch = -Infinity;

  constructor(windowMs: number) {
    this.bucketMs = windowMs / WINDOW_BUCKETS;
  }

  record(now: number, failed: boolean): void {
    this.advance(now);
    this.bucketCalls[this.head]!++;
    this.calls++;
    if (failed) {
      this.bucketFailures[this.head]!++;
      this.failures++;
    }
  }

  /** Moves the window to `now`; a clock that went back stays in the current bucket. */
  advance(now: number): void {
    const epoch = Math.floor(now / this.bucketMs);
    let steps = epoch - this.epoch;
    if (!(steps > 0)) return;
    this.epoch = epoch;
    if (steps >= WINDOW_BUCKETS) {
      this.clear();
      return;
    }
    const calls = this.bucketCalls;
    const failures = this.bucketFailures;
    while (steps-- > 0) {
      const i = (this.head = this.head + 1 === WINDOW_BUCKETS ? 0 : this.head + 1);
      this.calls -= calls[i]!;
      this.failures -= failures[i]!;
      calls[i] = 0;
      failures[i] = 0;
    }
  }

  clear(): void {
    this.bucketCalls.fill(0);
    this.bucketFailures.fill(0);
    this.calls = 0;
    this.failures = 0;
  }
}
