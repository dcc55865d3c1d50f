/**
 * The hedge policy: when a try is still running after `afterMs` (or the window's p95), another
 * attempt starts, up to `max` in parallel; the first success wins and the others' AbortSignals
 * fire. Only a latency trick: failures are not hedged (retry handles them), and the try fails
 * when every started attempt has failed. The attempts themselves are run by the Try (try.ts).
 */
import type { LatencyHistogram } from './latency.js';
import { DeadlineEntry } from '../util/deadline-queue.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveInteger, positiveNumber } from '../util/options.js';

export interface HedgePolicy {
  /** Start another attempt when the try is still running after this many ms, or after the
   *  window's p95 ('p95': no hedging until the window has `minSamples` samples). */
  afterMs: number | 'p95';
  /** Attempts in parallel at most, the first included (1 … 3). Default 2. */
  max?: number;
}

export interface ResolvedHedge {
  afterMs: number | 'p95';
  max: number;
}

export function resolveHedge(hedge: HedgePolicy | undefined): ResolvedHedge | null {
  if (hedge === undefined) return null;
  checkObject('hedge', hedge);
  knownKeys('hedge', hedge, ['afterMs', 'max']);
  const afterMs = hedge.afterMs === 'p95' ? 'p95' : positiveNumber('hedge.afterMs', hedge.afterMs);
  const max = hedge.max === undefined ? 2 : positiveInteger('hedge.max', hedge.max);
  if (max > 3) throw new ConfigError('hedge.max', `must be at most 3 attempts in parallel (got ${max})`);
  return { afterMs, max };
}

/** How long a try runs before the next attempt starts, ms; Infinity: not yet (p95 untrusted). */
export function hedgeDelayMs(hedge: ResolvedHedge, latency: LatencyHistogram, minSamples: number): number {
  const after = hedge.afterMs;
  if (after !== 'p95') return after;
  if (latency.count < minSamples) return Infinity;
  return Math.max(1, Math.ceil(latency.p95));
}

/** The hedge timer of a try, in the deadline queue: starts the next attempt when it fires. */
export class HedgeTrigger extends DeadlineEntry {
  constructor(private readonly owner: { hedgeNow(): void }) {
    super();
  }

  expire(): void {
    this.owner.hedgeNow();
  }
}
