/**
 * A small latency histogram per call target, shared by 'auto' timeouts, hedging and the breaker.
 *
 * - Log-scale buckets: 8 per power of two (each ~9% wide) from 1 µs to ~18 min, so a percentile is
 *   within a few percent of the exact sample, and memory is fixed (two Uint32Arrays of 242 slots).
 * - Sliding window by count: samples go to the current generation; every `window / 2` samples the
 *   previous generation is dropped and the current one becomes the previous. The window therefore
 *   holds the last `window / 2` … `window` samples, and an old regime is gone after `window`
 *   samples. No array of samples, no clock.
 * - `record` is O(1) (a log2, two increments). p50/p95/p99 are cached and refreshed lazily on the
 *   first read after `refreshEvery` samples or 1/16 of the window arrived, whichever comes first
 *   (so while the window is small, after every sample), and after each rotation: reading `p95` on
 *   every call is a field read most of the time. The refresh walks only the buckets between the
 *   window's smallest and largest sample, interpolates within the bucket by rank, and clamps to the
 *   window's [min, max], so constant latencies come out exact.
 */
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveInteger } from '../util/options.js';

export interface LatencyOptions {
  /** Samples the window holds at most (at least half of it after the first rotation). Default 512. */
  window?: number;
  /** Cached percentiles are recomputed once this many samples arrived (or 1/16 of the window). Default 16. */
  refreshEvery?: number;
}

export interface LatencySnapshot {
  count: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

/** Smallest distinguishable latency, ms (1 µs); everything at or below lands in bucket 0. */
const MIN_MS = 0.001;
/** Buckets per power of two. */
const SUB = 8;
const BUCKETS = 2 + 30 * SUB;
const LAST = BUCKETS - 1;

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0; // also NaN and negatives
  const i = Math.floor(Math.log2(ms / MIN_MS) * SUB) + 1;
  return Math.min(i, LAST);
}

function lowerEdge(i: number): number {
  return i === 0 ? 0 : MIN_MS * 2 ** ((i - 1) / SUB);
}

function upperEdge(i: number): number {
  return MIN_MS * 2 ** (i / SUB);
}

/**
 * A sliding window of latencies (ms) with p50/p95/p99, O(1) per sample, fixed memory: what
 * 'auto' timeouts, 'p95' hedges and the breaker's `hedging` state read (`call.latency`, `breaker.latency`).
 *
 * @example
 * ```ts
 * const latency = new LatencyHistogram({ window: 512 });
 * for (const ms of [12, 15, 11, 240]) latency.record(ms);
 * latency.p95;          // 240 (NaN while empty)
 * latency.snapshot();   // { count: 4, min: 11, max: 240, p50, p95, p99 }
 * ```
 */
export class LatencyHistogram {
  readonly window: number;
  readonly refreshEvery: number;
  private readonly half: number;
  /** Counts of the window (current + previous generation). */
  private readonly total = new Uint32Array(BUCKETS);
  /** Counts of the previous generation, subtracted from `total` when it is dropped. */
  private previous = new Uint32Array(BUCKETS);
  private current = new Uint32Array(BUCKETS);
  private currentCount = 0;
  private previousCount = 0;
  private currentMin = Infinity;
  private currentMax = -Infinity;
  private previousMin = Infinity;
  private previousMax = -Infinity;
  private sinceRefresh = 0;
  private cachedP50 = NaN;
  private cachedP95 = NaN;
  private cachedP99 = NaN;
  /** Samples recorded since creation (not only those in the window). */
  recorded = 0;

  constructor(options: LatencyOptions = {}, at = 'latency') {
    checkObject(at, options);
    knownKeys(at, options, ['window', 'refreshEvery']);
    this.window = options.window === undefined ? 512 : positiveInteger(`${at}.window`, options.window);
    if (this.window < 2) throw new ConfigError(`${at}.window`, `must be at least 2 (got ${this.window})`);
    this.refreshEvery = options.refreshEvery === undefined ? 16 : positiveInteger(`${at}.refreshEvery`, options.refreshEvery);
    this.half = this.window >> 1;
  }

  /** Records one latency in ms. O(1). */
  record(ms: number): void {
    if (this.currentCount === this.half) this.rotate();
    const i = bucketOf(ms);
    this.current[i]!++;
    this.total[i]!++;
    this.currentCount++;
    if (ms < this.currentMin) this.currentMin = ms;
    if (ms > this.currentMax) this.currentMax = ms;
    this.sinceRefresh++;
    this.recorded++;
  }

  /** Samples in the window. */
  get count(): number {
    return this.currentCount + this.previousCount;
  }

  get min(): number {
    return this.count === 0 ? NaN : Math.min(this.currentMin, this.previousMin);
  }

  get max(): number {
    return this.count === 0 ? NaN : Math.max(this.currentMax, this.previousMax);
  }

  /** Median of the window (cached); NaN when empty. */
  get p50(): number {
    if (this.stale()) this.refresh();
    return this.cachedP50;
  }

  /** 95th percentile of the window (cached); NaN when empty. */
  get p95(): number {
    if (this.stale()) this.refresh();
    return this.cachedP95;
  }

  /** 99th percentile of the window (cached); NaN when empty. */
  get p99(): number {
    if (this.stale()) this.refresh();
    return this.cachedP99;
  }

  /** Any quantile q in [0, 1], computed now (not cached); NaN when empty. */
  percentile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new ConfigError('percentile', `must be within [0, 1] (got ${q})`);
    return this.compute(q);
  }

  snapshot(): LatencySnapshot {
    return { count: this.count, min: this.min, max: this.max, p50: this.p50, p95: this.p95, p99: this.p99 };
  }

  /**
   * p50/p95/p99 of several windows taken together (their buckets summed, as one window), computed
   * now: e.g. every breaker's latency for a system-wide figure. Empty: count 0 and NaN.
   *
   * @example
   * ```ts
   * const { count, p95 } = LatencyHistogram.merged([a.latency, b.latency]);
   * ```
   */
  static merged(histograms: Iterable<LatencyHistogram>): LatencySnapshot {
    const sum = new LatencyHistogram({ window: 2 });
    for (const h of histograms) {
      if (h.count === 0) continue;
      for (let i = bucketOf(h.min), hi = bucketOf(h.max); i <= hi; i++) sum.total[i]! += h.total[i]!;
      sum.previousCount += h.count;
      sum.previousMin = Math.min(sum.previousMin, h.min);
      sum.previousMax = Math.max(sum.previousMax, h.max);
    }
    const count = sum.count;
    return { count, min: sum.min, max: sum.max, p50: sum.compute(0.5), p95: sum.compute(0.95), p99: sum.compute(0.99) };
  }

  /** Forgets every sample. */
  reset(): void {
    this.total.fill(0);
    this.current.fill(0);
    this.previous.fill(0);
    this.currentCount = this.previousCount = 0;
    this.currentMin = this.previousMin = Infinity;
    this.currentMax = this.previousMax = -Infinity;
    this.sinceRefresh = 0;
    this.cachedP50 = this.cachedP95 = this.cachedP99 = NaN;
  }

  /** Stale once `refreshEvery` samples or 1/16 of the window arrived since the last refresh. */
  private stale(): boolean {
    const since = this.sinceRefresh;
    return since !== 0 && (since >= this.refreshEvery || since * 16 >= this.count);
  }

  private refresh(): void {
    this.sinceRefresh = 0;
    this.cachedP50 = this.compute(0.5);
    this.cachedP95 = this.compute(0.95);
    this.cachedP99 = this.compute(0.99);
  }

  private rotate(): void {
    const dropped = this.previous;
    if (this.previousCount > 0) {
      const total = this.total;
      const lo = bucketOf(this.previousMin);
      const hi = bucketOf(this.previousMax);
      for (let i = lo; i <= hi; i++) {
        total[i]! -= dropped[i]!;
        dropped[i] = 0;
      }
    }
    this.previous = this.current;
    this.current = dropped;
    this.previousCount = this.currentCount;
    this.previousMin = this.currentMin;
    this.previousMax = this.currentMax;
    this.currentCount = 0;
    this.currentMin = Infinity;
    this.currentMax = -Infinity;
    this.sinceRefresh = this.refreshEvery; // the window changed: next read refreshes
  }

  private compute(q: number): number {
    const count = this.count;
    if (count === 0) return NaN;
    const min = this.min;
    const max = this.max;
    const rank = Math.max(1, Math.ceil(q * count));
    const total = this.total;
    const hi = bucketOf(max);
    let seen = 0;
    for (let i = bucketOf(min); i <= hi; i++) {
      const c = total[i]!;
      if (c === 0) continue;
      if (seen + c >= rank) {
        const lower = lowerEdge(i);
        const value = lower + ((upperEdge(i) - lower) * (rank - seen)) / c;
        return value < min ? min : Math.min(value, max);
      }
      seen += c;
    }
    return max;
  }
}
