/**
 * Breaker options: what they mean, their defaults, and their validation (`breakerOptions`), shared
 * by resilient(), actors' asks and pools.
 */
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber, show } from '../util/options.js';

/**
 * The state of a breaker, as `breaker.state`, `system.tree()` and the `breaker.<state>` events show it.
 *
 * @example
 * ```ts
 * const degraded = (state: BreakerState) => state === 'open' || state === 'halfOpen';
 * system.subscribe(monitor, 'breaker.*');   // { path, from, to } on every transition
 * ```
 */
export type BreakerState = 'closed' | 'open' | 'halfOpen' | 'hedging';

/**
 * Options of a breaker: an actor's `breaker`, a pool's `breaker` / `poolBreaker`, resilient()'s
 * `breaker`, or `new Breaker(options)`. Every key is checked (ConfigError naming it).
 *
 * @example
 * ```ts
 * const options: BreakerOptions = { failureThreshold: 3, resetTimeoutMs: 1_000, maxResetTimeoutMs: 30_000, hedgeAfterMs: 200 };
 * system.spawn(Pricer, { breaker: options });
 * resilient(fetchQuote, { breaker: options });
 * ```
 */
export interface BreakerOptions {
  /**
   * Consecutive failures (timeouts count) that open a closed breaker; Infinity: never on a count.
   * Default 5 — or Infinity when `failureRateThreshold` is set and this is not (the rate alone).
   */
  failureThreshold?: number;
  /** First open period, ms. Default 250. */
  resetTimeoutMs?: number;
  /**
   * Cap of the open period as it grows on consecutive re-opens, ms. Default 500: a probe at least
   * twice a second, so service is back within half a second of a fault's end, however long it lasted.
   */
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
  /**
   * Which failed calls count against the breaker: called with the error (a TimeoutError for a
   * timeout; for an actor whose handler crashed, what the handler threw); false → the call is
   * neither a failure nor a success (a probe's slot is freed). A `handle` that throws counts the
   * failure. Default: every failure counts (for asks, within the rule of what counts at all:
   * timeouts, crashes, a full mailbox).
   *
   * @example
   * ```ts
   * breaker: { handle: (error) => !(error instanceof HttpError && error.status < 500) }   // 4xx: the caller's fault
   * ```
   */
  handle?: (error: unknown) => boolean;
  /**
   * Opens the closed breaker on a failure rate instead: once at least `minimumCalls` calls ended
   * in the last `windowMs` and failures / calls ≥ this (0 < r ≤ 1). Default: off. When set without
   * `failureThreshold`, the consecutive-count rule is off; with both, whichever trips first.
   */
  failureRateThreshold?: number;
  /** Calls that must have ended in the window before the rate is trusted. Default 10. Requires `failureRateThreshold`. */
  minimumCalls?: number;
  /**
   * The sliding window of the rate, ms, on the breaker's clock: ten buckets of windowMs / 10, so a
   * call is forgotten between 0.9 × and 1 × windowMs after it ended. Default 10 000. Requires
   * `failureRateThreshold`.
   */
  windowMs?: number;
}

type Optional = 'hedgeAfterMs' | 'handle' | 'failureRateThreshold';

export type ResolvedBreakerOptions = Readonly<
  Required<Omit<BreakerOptions, Optional>> & {
    hedgeAfterMs: number | undefined;
    handle: ((error: unknown) => boolean) | undefined;
    failureRateThreshold: number | undefined;
  }
>;

export const BREAKER_DEFAULTS: ResolvedBreakerOptions = Object.freeze({
  failureThreshold: 5,
  resetTimeoutMs: 250,
  maxResetTimeoutMs: 500,
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
  handle: undefined,
  failureRateThreshold: undefined,
  minimumCalls: 10,
  windowMs: 10_000,
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
  if (o.handle !== undefined && typeof o.handle !== 'function') {
    throw new ConfigError(`${at}.handle`, `must be a function (error) => boolean (got ${show(o.handle)})`);
  }
  const failureRateThreshold = pick<number | undefined>('failureRateThreshold', (k, v) => positiveNumber(k, fraction(k, v, 0, 1, true)), undefined);
  if (failureRateThreshold === undefined) {
    // As in Resilience4j and Opossum, these shape a failure-rate rule; here that rule is off
    // unless asked for, so alone they would silently do nothing.
    for (const key of ['minimumCalls', 'windowMs'] as const) {
      if (o[key] !== undefined) throw new ConfigError(`${at}.${key}`, 'applies only with failureRateThreshold (set it, e.g. 0.5)');
    }
  }
  // Only a rate given: the rate alone decides (no consecutive count on top of it).
  const countDefault = failureRateThreshold === undefined ? d.failureThreshold : Infinity;
  const resolved: ResolvedBreakerOptions = Object.freeze({
    failureThreshold: pick('failureThreshold', (k, v) => positiveInteger(k, v, true), countDefault),
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
    handle: o.handle,
    failureRateThreshold,
    minimumCalls: pick('minimumCalls', positiveInteger, d.minimumCalls),
    windowMs: pick('windowMs', positiveNumber, d.windowMs),
  });
  if (resolved.latencyWindow < 2) throw new ConfigError(`${at}.latencyWindow`, `must be at least 2 (got ${resolved.latencyWindow})`);
  resolvedSet.add(resolved);
  resolvedCache.set(options, resolved);
  return resolved;
}
resolvedSet.add(BREAKER_DEFAULTS);
