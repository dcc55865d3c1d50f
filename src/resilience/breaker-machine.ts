/**
 * `breakerMachine`: the circuit breaker as an XState v5 machine, the source of truth for the
 * state. `Breaker` (breaker.ts) drives it and mirrors it for the hot path.
 *
 * States (top level, so `snapshot.value` is one of them):
 * - `closed`   calls pass; `failureThreshold` consecutive failures (timeouts included) → `open`;
 *              with `failureRateThreshold`, also a RATE event reporting that the window's failure
 *              rate reached it over at least `minimumCalls` calls → `open` (Breaker keeps the
 *              window and sends RATE only then; errors `handle` rejects never reach the machine).
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
 * Delays run on the clock given to `createActor` (XState's `clock` option): the system clock, a
 * SimulatedClock in tests.
 */
import { type Actor, assign, setup, type SnapshotFrom } from 'xstate';
import { type BreakerOptions, breakerOptions, type ResolvedBreakerOptions } from './breaker-options.js';
import { type BackoffPolicy, backoffDelay, nominalBackoff } from '../util/backoff.js';

export type BreakerEvent =
  /** A call succeeded; `probe` when it was admitted as a half-open probe. */
  | { type: 'SUCCESS'; probe?: boolean }
  /** A call failed (an error or a timeout); `probe` as for SUCCESS. */
  | { type: 'FAILURE'; probe?: boolean }
  /** Asks for a probe slot while half-open (granted when `context.probes` went up). */
  | { type: 'PROBE' }
  /** A probe ended without a verdict (cancelled by its caller): frees its slot. */
  | { type: 'RELEASE'; probe?: boolean }
  /** The failure-rate window (calls ended in the last windowMs), sent when it reaches the threshold. */
  | { type: 'RATE'; failures: number; calls: number }
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

/** Whether a breaker with this window would go from closed to hedging (shared by guard and Breaker). */
export function tooSlow(options: ResolvedBreakerOptions, p95: number, samples: number): boolean {
  return options.hedgeAfterMs !== undefined && samples >= options.minSamples && p95 > options.hedgeAfterMs;
}

/** Whether this window's failure rate opens a closed breaker (shared by guard and Breaker). */
export function rateReached(options: ResolvedBreakerOptions, failures: number, calls: number): boolean {
  const threshold = options.failureRateThreshold;
  return threshold !== undefined && calls >= options.minimumCalls && failures / calls >= threshold;
}

export function fastAgain(options: ResolvedBreakerOptions, p95: number): boolean {
  return options.hedgeAfterMs === undefined || p95 <= options.hedgeAfterMs * options.hedgeExitRatio;
}

const isProbe = ({ event }: { event: BreakerEvent }) => (event as { probe?: boolean }).probe === true;

/**
 * The circuit breaker as an XState v5 machine: states `closed`, `hedging`, `open`, `halfOpen`
 * (see the file header). Every Breaker runs one actor of it; use it to inspect or visualise.
 *
 * @example
 * ```ts
 * Object.keys(breakerMachine.states);   // ['closed', 'hedging', 'open', 'halfOpen']
 * const breaker = new Breaker({ failureThreshold: 3 }, { inspect: (event) => console.log(event.type) });
 * breaker.actor.getSnapshot().value;    // 'closed': the machine holds the state, breaker.state mirrors it
 * ```
 */
export const breakerMachine = setup({
  types: {
    context: {} as BreakerContext,
    events: {} as BreakerEvent,
    input: {} as BreakerInput,
  },
  guards: {
    failureThresholdReached: ({ context }) => context.failures + 1 >= context.options.failureThreshold,
    hasFailures: ({ context }) => context.failures > 0,
    failureRateReached: ({ context, event }) => event.type === 'RATE' && rateReached(context.options, event.failures, event.calls),
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
        RATE: { guard: 'failureRateReached', target: 'open', actions: 'firstOpen' },
        LATENCY: { guard: 'latencyHigh', target: 'hedging' },
        TRIP: { target: 'open', actions: 'firstOpen' },
        // already closed: an operator reset still forgets the failures counted so far
        RESET: { guard: 'hasFailures', actions: 'clearFailures' },
      },
    },
    hedging: {
      on: {
        SUCCESS: { guard: 'hasFailures', actions: 'clearFailures' },
        FAILURE: [{ guard: 'failureThresholdReached', target: 'open', actions: ['countFailure', 'firstOpen'] }, { actions: 'countFailure' }],
        RATE: { guard: 'failureRateReached', target: 'open', actions: 'firstOpen' },
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
