/**
 * The parts of `system.metrics()` read off the live actor tree when asked — breakers by state,
 * ask latency percentiles from the breakers' latency windows, restart counts by path, snapshot
 * ages — and the counters the system keeps for the rest. Nothing here runs per message: the
 * walk happens only when someone reads the metrics (or scrapes them).
 */
import type { ActorCell } from '../core/cell.js';
import type { DeadLetterReason } from '../core/dead-letters.js';
import type { Mode } from '../modes/modes-machine.js';
import type { SnapshotMetrics } from '../persistence/snapshots.js';
import { LatencyHistogram } from '../resilience/latency.js';

/**
 * What `system.metrics()` returns: counters since start and gauges read now. Computed when asked
 * (nothing is added to the handling of a message); `system.serveMetrics()` serves the same
 * figures to Prometheus.
 *
 * @example
 * ```ts
 * const { messagesHandled, restarts, breakers, askLatencyMs, mode, deadLettersByReason } = system.metrics();
 * if (breakers.open > 0 || mode !== 'normal') console.warn(restarts.byPath, askLatencyMs.p99);
 * ```
 */
export interface SystemMetrics {
  /** Actors not yet stopped for good. */
  actors: number;
  /** Messages handled since start (tells, asks, events, signals). */
  messagesHandled: number;
  /** Asks made since start: answered, refused or failed. */
  asks: number;
  /** Asks waiting for a reply. */
  asksPending: number;
  /** Actors with messages waiting for their turn. */
  runQueue: number;
  /** Dead letters since start. */
  deadLetters: number;
  /** Dead letters since start, by reason (a reason that never happened is absent). */
  deadLettersByReason: Partial<Record<DeadLetterReason, number>>;
  /**
   * Work refused as overload since start: asks refused by admission control (OverloadedError)
   * and messages a full mailbox refused or evicted.
   */
  refusals: number;
  /** Events published, and those that found no subscriber. */
  eventsPublished: number;
  eventsUnrouted: number;
  /** Restarts since start, and the actors restarted most. */
  restarts: RestartCounts;
  /** Live actors by the state of their breaker. */
  breakers: BreakerCounts;
  /** Ask latency percentiles over the system (from the breakers' windows of sampled asks). */
  askLatencyMs: LatencyPercentiles;
  /** The system mode now. */
  mode: Mode;
  /** Snapshot counters since start. */
  snapshots: SnapshotMetrics;
  /**
   * Per live snapshotting actor, by path: milliseconds (system clock) since this process last
   * took a snapshot of it; null while none was taken.
   */
  snapshotAgesMs: Record<string, number | null>;
}

/** How many actors `restarts.byPath` lists at most (those restarted most). */
export const TOP_RESTARTS = 20;

/**
 * Live actors by the state of their breaker (an actor gets one on its first ask, unless spawned
 * with `breaker: false`).
 *
 * @example
 * ```ts
 * const { open, halfOpen } = system.metrics().breakers;
 * ```
 */
export interface BreakerCounts {
  closed: number;
  open: number;
  halfOpen: number;
  hedging: number;
}

/**
 * Ask latency (ms) over the system: the breakers' latency windows taken together (each holds the
 * recent sampled asks to its actor). The percentiles are null while no ask has been timed.
 *
 * @example
 * ```ts
 * const { p99 } = system.metrics().askLatencyMs;   // null before the first timed ask
 * ```
 */
export interface LatencyPercentiles {
  /** Samples in the windows. */
  samples: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Restarts since start, and the actors restarted most (their current count), by path.
 *
 * @example
 * ```ts
 * const { total, byPath } = system.metrics().restarts;   // byPath: { '/trading/feed': 3 }
 * ```
 */
export interface RestartCounts {
  /** Every restart by a supervisor (or an operator's `restartChild`) since start. */
  total: number;
  /** Live actors restarted at least once, the TOP_RESTARTS (20) most restarted, by path. */
  byPath: Record<string, number>;
}

/** The fields of SystemMetrics this module computes, the rest given by the system. */
export interface TreeMetrics {
  breakers: BreakerCounts;
  askLatencyMs: LatencyPercentiles;
  byPath: Record<string, number>;
  snapshotAgesMs: Record<string, number | null>;
}

/** The counters the system keeps for metrics (each bumped off the hot path: restarts, refusals). */
export class RuntimeCounters {
  restarts = 0;
  refusals = 0;
}

/** One walk over the live actors: breakers, latency, restarts by path, snapshot ages. */
export function treeMetrics(topLevel: Iterable<ActorCell>, snapshotAge: (path: string) => number | null): TreeMetrics {
  const breakers: BreakerCounts = { closed: 0, open: 0, halfOpen: 0, hedging: 0 };
  const histograms: LatencyHistogram[] = [];
  const restarted: [string, number][] = [];
  const snapshotAgesMs: Record<string, number | null> = {};
  const stack = [...topLevel];
  while (stack.length > 0) {
    const cell = stack.pop()!;
    if (cell.children !== null) stack.push(...cell.children.values());
    if (!cell.isAlive) continue;
    const breaker = cell.breaker;
    if (breaker !== null) {
      breakers[breaker.state]++;
      histograms.push(breaker.latency);
    }
    if (cell.restarts > 0) restarted.push([cell.path, cell.restarts]);
    if (cell.hooks !== null) snapshotAgesMs[cell.path] = snapshotAge(cell.path);
  }
  restarted.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const latency = LatencyHistogram.merged(histograms);
  const orNull = (ms: number) => (Number.isNaN(ms) ? null : ms);
  return {
    breakers,
    askLatencyMs: { samples: latency.count, p50: orNull(latency.p50), p95: orNull(latency.p95), p99: orNull(latency.p99) },
    byPath: Object.fromEntries(restarted.slice(0, TOP_RESTARTS)),
    snapshotAgesMs,
  };
}
