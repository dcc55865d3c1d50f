/**
 * Time as the runtime sees it. Everything time-based (ask deadlines, backoff, breaker resets,
 * snapshot intervals) goes through a Clock, so tests can swap in a SimulatedClock and make
 * time move by hand: fast and deterministic, no real sleeps.
 */
/**
 * A time source: `realClock`, a SimulatedClock, or any object with these three methods.
 *
 * @example
 * ```ts
 * const clock: Clock = new SimulatedClock();
 * const system = await ActorSystem.start({ clock, store: false });
 * ```
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (only differences matter). */
  now(): number;
  /** Calls `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not fired (a handle that has is ignored). */
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = unknown;

/**
 * The longest delay a Node timer honours. Above it Node warns (TimeoutOverflowWarning) and
 * fires after 1 ms, so longer delays are chained from timers of at most this length.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay longer than MAX_TIMER_MS: a chain of Node timers, each re-armed for what is left,
 * until the whole delay has passed. `timer` is always the hop currently armed, so clearing it
 * cancels the chain wherever it is. (An infinite delay simply never fires.)
 */
class ChainedTimer {
  timer: NodeJS.Timeout;
  private remaining: number;
  /** Whether its hops hold the event loop open (Node's ref/unref, kept across hops). */
  private refed = true;

  constructor(
    private readonly fn: () => void,
    ms: number,
  ) {
    this.remaining = ms;
    this.timer = this.arm();
  }

  ref(): this {
    this.refed = true;
    this.timer.ref();
    return this;
  }

  unref(): this {
    this.refed = false;
    this.timer.unref();
    return this;
  }

  private arm(): NodeJS.Timeout {
    const hop = Math.min(this.remaining, MAX_TIMER_MS);
    this.remaining -= hop;
    const timer = setTimeout(this.hop, hop);
    return this.refed ? timer : timer.unref();
  }

  private readonly hop = (): void => {
    if (this.remaining > 0) this.timer = this.arm();
    else this.fn();
  };
}

/**
 * The real clock: monotonic `performance.now()` and Node timers. Every runtime delay, however
 * long the user made it, goes through here; only delays above MAX_TIMER_MS pay for a chain —
 * the common path is a bare Node timer, as cheap as calling setTimeout directly.
 *
 * @example
 * ```ts
 * const handle = realClock.setTimeout(() => console.log('35 days later'), 3e9);   // not at once
 * realClock.clearTimeout(handle);
 * ```
 */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => (ms > MAX_TIMER_MS ? new ChainedTimer(fn, ms) : setTimeout(fn, ms)),
  clearTimeout: (handle) => clearTimeout(handle instanceof ChainedTimer ? handle.timer : (handle as NodeJS.Timeout)),
};

/** A timer handle that can stop holding the event loop open: Node's Timeout, a ChainedTimer. */
interface Refable {
  ref(): unknown;
  unref(): unknown;
}

function isRefable(handle: TimerHandle): handle is Refable {
  return typeof handle === 'object' && handle !== null && typeof (handle as Partial<Refable>).unref === 'function';
}

/**
 * Lets a timer of the real clock stop holding the host's event loop open (Node's `unref`): the
 * runtime's housekeeping (snapshot intervals, breaker resets, an idle deadline sweep) must not
 * keep a host alive once its own work is done. A no-op for handles that have no such notion (a
 * SimulatedClock's, a custom clock's). Returns the handle.
 *
 * @example
 * ```ts
 * slot.timer = unrefTimer(clock.setTimeout(takeSnapshot, everyMs));
 * ```
 */
export function unrefTimer<H extends TimerHandle>(handle: H): H {
  if (isRefable(handle)) handle.unref();
  return handle;
}

/** Undoes unrefTimer: the timer holds the event loop open again (work is waiting on it). */
export function refTimer(handle: TimerHandle): void {
  if (isRefable(handle)) handle.ref();
}

const backgroundClocks = new WeakMap<Clock, Clock>();

/**
 * `clock`, with timers that never hold the host's event loop open: the same time and the same
 * timers (a SimulatedClock still fires them), only each handle is unref'd. For timers set on
 * the runtime's behalf by code that takes a clock (XState's delays: a breaker's reset).
 */
export function backgroundClock(clock: Clock): Clock {
  let background = backgroundClocks.get(clock);
  if (background === undefined) {
    background = {
      now: () => clock.now(),
      setTimeout: (fn, ms) => unrefTimer(clock.setTimeout(fn, ms)),
      clearTimeout: (handle) => clock.clearTimeout(handle),
    };
    backgroundClocks.set(clock, background);
  }
  return background;
}

interface SimTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock whose time only moves when `advance` or `runAll` is called. Timers fire in order of
 * due time (then creation order), each seeing `now()` equal to its due time.
 *
 * @example
 * ```ts
 * const clock = new SimulatedClock();
 * clock.setTimeout(() => console.log('fired at', clock.now()), 500);
 * clock.advance(1_000);   // logs 'fired at 500'; clock.now() is 1000
 * const system = await ActorSystem.start({ clock, store: false });   // its deadlines and backoffs too
 * ```
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
