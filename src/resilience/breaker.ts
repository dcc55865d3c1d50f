/**
 * The circuit breaker: `breakerMachine` (XState v5, the source of truth for the state) and
 * `Breaker`, the small runtime object that callers consult on every call.
 *
 * States (top level, so `snapshot.value` is one of them):
 * - `closed`   calls pass; `failureThreshold` consecutive failures (timeouts included) → `open`.
 * - `hedging`  calls pass and succeed but the window's p95 latency is above `hedgeAfterMs`
 *              (slow but alive: pools start parallel attempts); p95 back to ≤ `hedgeAfterMs` ×
 *              `hedgeExitRatio` → `closed`; failures count exactly as in `closed`.
 * - `open`     calls are refused (`CircuitOpenError`), or answered from the fallback when the
 *              breaker is `essential`. After the reset delay → `halfOpen`. The delay is
 *              `resetTimeoutMs` × `resetBackoff`^n for the n-th consecutive re-open (a failed
 *              half-open), capped at `maxResetTimeoutMs`, minus up to `resetJitter` of itself.
 * - `halfOpen` up to `halfOpenMaxCalls` probes in flight (one for an essential breaker: one probe
 *              per reset period, everything else gets the fallback); `successThreshold` probe
 *              successes → `closed` (and the re-open count is forgotten); a probe failure → `open`.
 *              A probe that never ends (a call without a timeout) must not hold the breaker for
 *              good: a reset period after the last probe was let through, the slots of probes
 *              still in flight are reclaimed and new probes may go. Each grant re-enters the
 *              state to re-arm that delay; with no probe in flight no timer is kept.
 * Results of calls admitted in an earlier state (a closed-state call finishing while half-open)
 * are ignored by the machine: only probes decide a half-open breaker.
 *
 * Hot path: `Breaker` mirrors the state and the consecutive-failure count in plain fields, updated
 * by a subscription to the actor. `acquire()` in `closed`/`hedging` is one field test, and
 * `success()` there records the latency and sends nothing unless a failure is pending (then one
 * SUCCESS resets the count) or the cached p95 crosses the hedging threshold (one LATENCY event).
 * Failures, probes and every non-closed decision go through the machine: they are rare.
 *
 * Delays run on the clock given to `createActor` (XState's `clock` option): the system clock, a
 * SimulatedClock in tests. Transitions are visible with XState's `inspect` option and through
 * `onTransition(from, to, breaker)`.
 */
import { type Actor, assign, createActor, type InspectionEvent, type Observer, setup, type SnapshotFrom } from 'xstate';
import { type BackoffPolicy, backoffDelay, nominalBackoff } from '../util/backoff.js';
import { type Clock, realClock } from '../util/clock.js';
import { ConfigError } from '../util/errors.js';
import { LatencyHistogram } from './latency.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber } from '../util/options.js';

export type BreakerState = 'closed' | 'open' | 'halfOpen' | 'hedging';

export interface BreakerOptions {
  /** Consecutive failures (timeouts count) that open a closed breaker. Default 5. */
  failureThreshold?: number;
  /** First open period, ms. Default 5000. */
  resetTimeoutMs?: number;
  /** Cap of the open period as it grows on consecutive re-opens, ms. Default 60000. */
  maxResetTimeoutMs?: number;
  /** Growth factor of the open period per consecutive re-open (≥ 1). Default 2. */
  resetBackoff?: number;
  /** Up to this fraction of the open period is taken off at random (0 ≤ j < 1). Default 0.2. */
  resetJitter?: number;
  /** Probes in flight while half-open. Default 1 (always 1 for an essential breaker). */
  halfOpenMaxCalls?: number;
  /** Probe successes that close a half-open breaker. Default 1. */
  successThreshold?: number;
  /** 'auto' timeouts are this × p95 of observed latency. Default 2.5. */
  timeoutMultiplier?: number;
  /** p95 latency (ms) above which a succeeding breaker goes `hedging`. Default: never. */
  hedgeAfterMs?: number;
  /** Back to `closed` when p95 ≤ hedgeAfterMs × this (hysteresis, 0 < r ≤ 1). Default 0.8. */
  hedgeExitRatio?: number;
  /** Samples needed before p95 is trusted (hedging, 'auto' timeouts). Default 20. */
  minSamples?: number;
  /** Samples in the latency window. Default 512. */
  latencyWindow?: number;
  /** Never refuse: serve the fallback while open, one probe per reset period. Default false. */
  essential?: boolean;
}

export type ResolvedBreakerOptions = Readonly<Required<Omit<BreakerOptions, 'hedgeAfterMs'>> & { hedgeAfterMs: number | undefined }>;

export const BREAKER_DEFAULTS: ResolvedBreakerOptions = Object.freeze({
  failureThreshold: 5,
  resetTimeoutMs: 5000,
  maxResetTimeoutMs: 60_000,
  resetBackoff: 2,
  resetJitter: 0.2,
  halfOpenMaxCalls: 1,
  successThreshold: 1,
  timeoutMultiplier: 2.5,
  hedgeAfterMs: undefined,
  hedgeExitRatio: 0.8,
  minSamples: 20,
  latencyWindow: 512,
  essential: false,
});

const BREAKER_KEYS = Object.keys(BREAKER_DEFAULTS);
const resolvedSet = new WeakSet<object>();
const resolvedCache = new WeakMap<object, ResolvedBreakerOptions>();

function fraction(option: string, value: unknown, lo: number, hi: number, hiInclusive: boolean): number {
  if (typeof value === 'number' && value >= lo && (hiInclusive ? value <= hi : value < hi)) return value;
  throw new ConfigError(option, `must be a number in [${lo}, ${hi}${hiInclusive ? ']' : ')'} (got ${String(value)})`);
}

/**
 * Validates breaker options (ConfigError naming `at.<option>`) and fills in the defaults. The
 * result is frozen and cached per options object, so resolving the same object for many actors
 * is a WeakMap lookup; passing a resolved object returns it unchanged.
 */
export function breakerOptions(options: BreakerOptions | undefined, at = 'breaker'): ResolvedBreakerOptions {
  if (options === undefined) return BREAKER_DEFAULTS;
  if (resolvedSet.has(options)) return options as ResolvedBreakerOptions;
  const cached = resolvedCache.get(options);
  if (cached) return cached;
  checkObject(at, options);
  knownKeys(at, options, BREAKER_KEYS);
  const d = BREAKER_DEFAULTS;
  const o = options;
  const pick = <T>(key: keyof BreakerOptions, check: (option: string, value: unknown) => T, fallback: T): T =>
    o[key] === undefined ? fallback : check(`${at}.${key}`, o[key]);
  const resetTimeoutMs = pick('resetTimeoutMs', positiveNumber, d.resetTimeoutMs);
  const maxResetTimeoutMs = pick('maxResetTimeoutMs', positiveNumber, Math.max(d.maxResetTimeoutMs, resetTimeoutMs));
  if (maxResetTimeoutMs < resetTimeoutMs) {
    throw new ConfigError(`${at}.maxResetTimeoutMs`, `must be ≥ resetTimeoutMs (${resetTimeoutMs}) (got ${maxResetTimeoutMs})`);
  }
  const resetBackoff = pick('resetBackoff', positiveNumber, d.resetBackoff);
  if (resetBackoff < 1) throw new ConfigError(`${at}.resetBackoff`, `must be ≥ 1 (got ${resetBackoff})`);
  if (o.essential !== undefined && typeof o.essential !== 'boolean') {
    throw new ConfigError(`${at}.essential`, `must be a boolean (got ${String(o.essential)})`);
  }
  const resolved: ResolvedBreakerOptions = Object.freeze({
    failureThreshold: pick('failureThreshold', positiveInteger, d.failureThreshold),
    resetTimeoutMs,
    maxResetTimeoutMs,
    resetBackoff,
    resetJitter: pick('resetJitter', (k, v) => fraction(k, v, 0, 1, false), d.resetJitter),
    halfOpenMaxCalls: pick('halfOpenMaxCalls', positiveInteger, d.halfOpenMaxCalls),
    successThreshold: pick('successThreshold', positiveInteger, d.successThreshold),
    timeoutMultiplier: pick('timeoutMultiplier', positiveNumber, d.timeoutMultiplier),
    hedgeAfterMs: pick<number | undefined>('hedgeAfterMs', positiveNumber, undefined),
    hedgeExitRatio: pick('hedgeExitRatio', (k, v) => positiveNumber(k, fraction(k, v, 0, 1, true)), d.hedgeExitRatio),
    minSamples: pick('minSamples', positiveInteger, d.minSamples),
    latencyWindow: pick('latencyWindow', positiveInteger, d.latencyWindow),
    essential: o.essential ?? false,
  });
  if (resolved.latencyWindow < 2) throw new ConfigError(`${at}.latencyWindow`, `must be at least 2 (got ${resolved.latencyWindow})`);
  resolvedSet.add(resolved);
  resolvedCache.set(options, resolved);
  return resolved;
}
resolvedSet.add(BREAKER_DEFAULTS);

// ---- The machine -----------------------------------------------------------------------

export type BreakerEvent =
  /** A call succeeded; `probe` when it was admitted as a half-open probe. */
  | { type: 'SUCCESS'; probe?: boolean }
  /** A call failed (an error or a timeout); `probe` as for SUCCESS. */
  | { type: 'FAILURE'; probe?: boolean }
  /** Asks for a probe slot while half-open (granted when `context.probes` went up). */
  | { type: 'PROBE' }
  /** A probe ended without a verdict (cancelled by its caller): frees its slot. */
  | { type: 'RELEASE'; probe?: boolean }
  /** The window's latency, sent when it crosses the hedging thresholds. */
  | { type: 'LATENCY'; p95: number; samples: number }
  /** Manual override: open now / close now (operator, system modes). */
  | { type: 'TRIP' }
  | { type: 'RESET' };

export interface BreakerContext {
  options: ResolvedBreakerOptions;
  random: () => number;
  /** Consecutive failures while closed/hedging. */
  failures: number;
  /** Probe successes in this half-open period. */
  successes: number;
  /** Probes in flight in this half-open period. */
  probes: number;
  /** Consecutive re-opens (failed half-opens) since the breaker last closed. */
  reopens: number;
  /** The current (or last) open period, ms, jitter included. */
  resetDelayMs: number;
}

export interface BreakerInput {
  options?: BreakerOptions;
  /** Uniform [0, 1) source for the jitter; seed it in tests. Default Math.random. */
  random?: () => number;
}

/** The nominal open period after `reopens` consecutive re-opens, before jitter. */
export function nominalResetMs(options: ResolvedBreakerOptions, reopens: number): number {
  return nominalBackoff(reopens, resetBackoff(options));
}

/** The open period as a backoff (src/util/backoff.ts): step = consecutive re-opens, jitter down. */
function resetBackoff(options: ResolvedBreakerOptions): BackoffPolicy {
  return { baseMs: options.resetTimeoutMs, maxMs: options.maxResetTimeoutMs, factor: options.resetBackoff, jitter: options.resetJitter };
}

/** Whether a breaker with this window would go from closed to hedging (shared by guard and fast path). */
function tooSlow(options: ResolvedBreakerOptions, p95: number, samples: number): boolean {
  return options.hedgeAfterMs !== undefined && samples >= options.minSamples && p95 > options.hedgeAfterMs;
}

function fastAgain(options: ResolvedBreakerOptions, p95: number): boolean {
  return options.hedgeAfterMs === undefined || p95 <= options.hedgeAfterMs * options.hedgeExitRatio;
}

const isProbe = ({ event }: { event: BreakerEvent }) => (event as { probe?: boolean }).probe === true;

export const breakerMachine = setup({
  types: {
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
    input: {} as BreakerInput,
  },
  guards: {
    failureThresholdReached: ({ context }) => context.failures + 1 >= context.options.failureThreshold,
    hasFailures: ({ context }) => context.failures > 0,
    isProbe,
    probesInFlight: ({ context }) => context.probes > 0,
    probeSlotFree: ({ context }) => context.probes < (context.options.essential ? 1 : context.options.halfOpenMaxCalls),
    successThresholdReached: ({ context, event }) => isProbe({ event }) && context.successes + 1 >= context.options.successThreshold,
    latencyHigh: ({ context, event }) => event.type === 'LATENCY' && tooSlow(context.options, event.p95, event.samples),
    latencyRecovered: ({ context, event }) => event.type === 'LATENCY' && fastAgain(context.options, event.p95),
  },
  actions: {
    countFailure: assign({ failures: ({ context }) => context.failures + 1 }),
    clearFailures: assign({ failures: 0 }),
    /** Closed → open: the first open period of a series. */
    firstOpen: assign({ reopens: 0 }),
    /** Half-open → open: the period grows. */
    reopen: assign({ reopens: ({ context }) => context.reopens + 1 }),
    /** Entry of open: draws this period's delay (read by the `resetDelay` delay). */
    drawResetDelay: assign({
      resetDelayMs: ({ context }) => {
        // whole ms, at least 1: XState delays, and a 0 would reopen at once
        return Math.max(1, Math.round(backoffDelay(context.reopens, resetBackoff(context.options), context.random)));
      },
    }),
    startProbing: assign({ probes: 0, successes: 0 }),
    takeProbe: assign({ probes: ({ context }) => context.probes + 1 }),
    countProbeSuccess: assign({
      successes: ({ context }) => context.successes + 1,
      probes: ({ context }) => Math.max(0, context.probes - 1),
    }),
    releaseProbe: assign({ probes: ({ context }) => Math.max(0, context.probes - 1) }),
    /** Probes outlived a reset period: their slots are free again (a late verdict still counts). */
    reclaimProbes: assign({ probes: 0 }),
    close: assign({ failures: 0, successes: 0, probes: 0, reopens: 0 }),
  },
  delays: {
    resetDelay: ({ context }) => context.resetDelayMs,
  },
}).createMachine({
  id: 'breaker',
  initial: 'closed',
  context: ({ input }) => ({
    options: breakerOptions(input?.options),
    random: input?.random ?? Math.random,
    failures: 0,
    successes: 0,
    probes: 0,
    reopens: 0,
    resetDelayMs: 0,
  }),
  states: {
    closed: {
      on: {
        SUCCESS: { guard: 'hasFailures', actions: 'clearFailures' },
        FAILURE: [{ guard: 'failureThresholdReached', target: 'open', actions: ['countFailure', 'firstOpen'] }, { actions: 'countFailure' }],
        LATENCY: { guard: 'latencyHigh', target: 'hedging' },
        TRIP: { target: 'open', actions: 'firstOpen' },
      },
    },
    hedging: {
      on: {
        SUCCESS: { guard: 'hasFailures', actions: 'clearFailures' },
        FAILURE: [{ guard: 'failureThresholdReached', target: 'open', actions: ['countFailure', 'firstOpen'] }, { actions: 'countFailure' }],
        LATENCY: { guard: 'latencyRecovered', target: 'closed' },
        TRIP: { target: 'open', actions: 'firstOpen' },
        RESET: { target: 'closed', actions: 'close' },
      },
    },
    open: {
      entry: 'drawResetDelay',
      after: { resetDelay: { target: 'halfOpen', actions: 'startProbing' } },
      on: {
        RESET: { target: 'closed', actions: 'close' },
      },
    },
    halfOpen: {
      // Not an entry action: re-entering (below) must keep the period's counts.
      after: { resetDelay: { guard: 'probesInFlight', target: 'halfOpen', reenter: true, actions: 'reclaimProbes' } },
      on: {
        // re-entering re-arms the reclaim delay from this grant
        PROBE: { guard: 'probeSlotFree', target: 'halfOpen', reenter: true, actions: 'takeProbe' },
        SUCCESS: [
          { guard: 'successThresholdReached', target: 'closed', actions: 'close' },
          { guard: 'isProbe', actions: 'countProbeSuccess' },
        ],
        FAILURE: { guard: 'isProbe', target: 'open', actions: 'reopen' },
        RELEASE: { guard: 'isProbe', actions: 'releaseProbe' },
        TRIP: { target: 'open', actions: 'reopen' },
        RESET: { target: 'closed', actions: 'close' },
      },
    },
  },
});

export type BreakerActor = Actor<typeof breakerMachine>;
export type BreakerSnapshot = SnapshotFrom<typeof breakerMachine>;

// ---- The runtime object ----------------------------------------------------------------

/** What `acquire()` decided for one call. Plain numbers: no allocation on the hot path. */
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
  return ms < minMs ? minMs : ms > maxMs ? maxMs : ms;
}
