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
 * Transitions are visible with XState's `inspect` option and through
 * `onTransition(from, to, breaker)`.
 */
import { createActor, type InspectionEvent, type Observer } from 'xstate';
import { type BreakerActor, type BreakerContext, breakerMachine, type BreakerSnapshot, fastAgain, tooSlow } from './breaker-machine.js';
import { type BreakerOptions, type BreakerState, breakerOptions, type ResolvedBreakerOptions } from './breaker-options.js';
import { LatencyHistogram } from './latency.js';
import { type Clock, realClock } from '../util/clock.js';

export {
  type BreakerActor,
  type BreakerContext,
  type BreakerEvent,
  type BreakerInput,
  breakerMachine,
  type BreakerSnapshot,
  nominalResetMs,
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

  constructor(options?: BreakerOptions, deps: BreakerDeps = {}) {
    this.options = breakerOptions(options);
    this.path = deps.path ?? 'breaker';
    this.onTransition = deps.onTransition ?? null;
    this.latency = deps.latency ?? new LatencyHistogram({ window: this.options.latencyWindow });
    this.watchLatency = this.options.hedgeAfterMs !== undefined;
    this.actor = createActor(breakerMachine, {
      input: { options: this.options, random: deps.random ?? Math.random },
      clock: deps.clock ?? realClock,
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
      return;
    }
    if (admission === Admission.probe) this.actor.send({ type: 'SUCCESS', probe: true });
    // a pass admitted before the breaker left closed: its verdict is stale, ignored
  }

  /** A call admitted with `admission` failed (an error or a timeout). */
  failure(admission: Admission = Admission.pass): void {
    if (this.passing ? admission === Admission.pass : admission === Admission.probe) {
      this.actor.send({ type: 'FAILURE', probe: admission === Admission.probe });
    }
  }

  /** A call ended without a verdict (its caller gave up): frees a probe slot. */
  release(admission: Admission): void {
    if (admission === Admission.probe) this.actor.send({ type: 'RELEASE', probe: true });
  }

  /** Opens the breaker now (operator override). */
  trip(): void {
    this.actor.send({ type: 'TRIP' });
  }

  /** Closes the breaker now (operator override). */
  reset(): void {
    this.actor.send({ type: 'RESET' });
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

  private sync(snapshot: BreakerSnapshot): void {
    this.failures = snapshot.context.failures;
    const to = snapshot.value as BreakerState;
    const from = this.state;
    if (to === from) return;
    this.state = to;
    this.passing = to === 'closed' || to === 'hedging';
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
