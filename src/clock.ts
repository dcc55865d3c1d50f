/**
 * Time as the runtime sees it. Everything time-based (ask deadlines, backoff, breaker resets,
 * snapshot intervals) goes through a Clock, so tests can swap in a SimulatedClock and make
 * time move by hand: fast and deterministic, no real sleeps.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = unknown;

/** The real clock: monotonic `performance.now()` and Node timers. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface SimTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock whose time only moves when `advance` or `runAll` is called. Timers fire in order of
 * due time (then creation order), each seeing `now()` equal to its due time.
 */
export class SimulatedClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<SimTimer>();

  constructor(startMs = 0) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: SimTimer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as SimTimer);
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (let next = this.nextDue(target); next; next = this.nextDue(target)) {
      this.timers.delete(next);
      this.time = next.at;
      next.fn();
    }
    this.time = target;
  }

  /** Fires timers until none is left (bounded, so a self-rearming timer cannot spin forever). */
  runAll(maxTimers = 100_000): void {
    for (let i = 0; i < maxTimers; i++) {
      const next = this.nextDue(Infinity);
      if (!next) return;
      this.timers.delete(next);
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
  }

  private nextDue(limit: number): SimTimer | undefined {
    let best: SimTimer | undefined;
    for (const t of this.timers) {
      if (t.at <= limit && (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    }
    return best;
  }
}
