/**
 * The timeout policy: one deadline per try — fixed, or 'auto' = multiplier × the target's p95
 * latency, clamped — and the deadline queue that enforces it.
 *
 * Deadlines: one turn-stamped DeadlineQueue per clock (src/util/deadline-queue.ts), shared by
 * every wrapper on that clock: no timer per call, no clock read to add a deadline of a recurring
 * value; a timeout fires at timeoutMs, never earlier, later by at most the rest of the
 * event-loop turn the call started in plus a timer tick. Turns also pace latency sampling: the
 * first 16 tries of a turn are timed, then one in 32 (a clock read costs more than the rest of a
 * fast call).
 */
import { autoTimeoutMs, type Breaker } from './breaker.js';
import type { LatencyHistogram } from './latency.js';
import type { Clock } from '../util/clock.js';
import { DeadlineQueue } from '../util/deadline-queue.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveNumber } from '../util/options.js';

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

/** Validates `autoTimeout` (ConfigError naming the key); the defaults are applied by TimeoutRule. */
export function resolveAutoTimeout(auto: AutoTimeoutPolicy | undefined): AutoTimeoutPolicy {
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

/** The timeout a try gets. */
export class TimeoutRule {
  /** Fixed timeout in ms, 0 for none, -1 for 'auto'. */
  readonly fixedMs: number;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly initialMs: number;
  private readonly multiplier: number;

  private readonly widening: Widening;

  constructor(
    timeout: number | 'auto' | undefined,
    auto: AutoTimeoutPolicy,
    breaker: Breaker | null,
    private readonly latency: LatencyHistogram,
    private readonly minSamples: number,
    clock: Clock,
  ) {
    this.widening = wideningFor(clock);
    this.fixedMs = timeout === undefined ? 0 : timeout === 'auto' ? -1 : timeout;
    this.multiplier = auto.multiplier ?? breaker?.options.timeoutMultiplier ?? 2.5;
    this.maxMs = auto.maxMs ?? 30_000;
    this.minMs = auto.minMs ?? 1;
    this.initialMs = auto.initialMs ?? this.maxMs;
  }

  /** The timeout of the next try, ms (0 = none). Small, so that it inlines on the hot path. */
  ms(): number {
    const fixed = this.fixedMs;
    return fixed >= 0 ? fixed : this.autoMs();
  }

  private autoMs(): number {
    const ms = autoTimeoutMs(this.latency, this.multiplier, this.minMs, this.maxMs, this.initialMs, this.minSamples);
    const factor = this.widening.factor;
    return factor === 1 ? ms : Math.min(ms * factor, this.maxMs);
  }
}

/** How much 'auto' timeouts on one clock are widened (the system's latency mode sets it). */
interface Widening {
  factor: number;
}

const wideningByClock = new WeakMap<Clock, Widening>();

function wideningFor(clock: Clock): Widening {
  let widening = wideningByClock.get(clock);
  if (widening === undefined) wideningByClock.set(clock, (widening = { factor: 1 }));
  return widening;
}

/**
 * Widens every 'auto' timeout of the wrappers on `clock` by `factor` (1: back to normal) — what
 * the latency mode does for a system on that clock: slow but alive targets get more time while
 * their latency window catches up. Still clamped by each wrapper's `autoTimeout.maxMs`.
 */
export function widenAutoTimeouts(clock: Clock, factor: number): void {
  wideningFor(clock).factor = factor;
}

const deadlinesByClock = new WeakMap<Clock, DeadlineQueue>();

/** The deadline queue of `clock`, shared by every wrapper on it (one timer per clock). */
export function deadlinesFor(clock: Clock): DeadlineQueue {
  let deadlines = deadlinesByClock.get(clock);
  if (deadlines === undefined) {
    deadlines = new DeadlineQueue(clock, { stamp: 'turn' });
    deadlinesByClock.set(clock, deadlines);
  }
  return deadlines;
}

/** Counts a try in the open turn; true when its latency should be measured. */
export function sampleLatency(deadlines: DeadlineQueue): boolean {
  const n = ++deadlines.turn.count;
  if (n <= 16) return true;
  deadlines.endTurnSoon(); // a busy turn: start counting afresh in the next one
  return (n & 31) === 0;
}
