/**
 * The run queue: actors with messages waiting, run in FIFO order, each for at most its
 * `throughput` messages per turn (fairness).
 *
 * Draining starts on a microtask, so a tell-then-await round trip costs no event-loop turn and
 * no timer. A flood must not starve Node's event loop, though: the scheduler counts the work it
 * has done since the event loop last got a turn (a setImmediate marker tells it when that
 * happened) and, once that exceeds SLICE_MS, continues on setImmediate instead, letting timers
 * and I/O run in between.
 */
import { untracked } from './handler-scope.js';

export interface Runnable {
  /** Handles up to its throughput of messages; re-enqueues itself if it still has work. */
  run(): number;
}

const SLICE_MS = 8;
/** How many messages between two reads of the clock. */
const CHECK_EVERY = 512;

export class Scheduler {
  private queue: (Runnable | undefined)[] = new Array(64);
  private head = 0;
  private count = 0;
  private drainScheduled = false;
  /** True while a setImmediate marker for the current event-loop turn is outstanding. */
  private markerArmed = false;
  private sliceStart = 0;
  private sinceCheck = 0;
  /** This turn's slice is used up: further drains wait for the next turn (setImmediate). */
  private overSlice = false;
  /** Messages handled since start, for metrics. */
  handled = 0;

  enqueue(actor: Runnable): void {
    let queue = this.queue;
    if (this.count === queue.length) queue = this.grow();
    queue[(this.head + this.count) & (queue.length - 1)] = actor;
    if (this.count++ === 0 && !this.drainScheduled) {
      this.drainScheduled = true;
      // Work that arrives from promise callbacks (async handlers, restarts) after the slice is
      // spent must not keep the microtask queue busy forever either.
      if (this.overSlice) setImmediate(this.drain);
      else queueMicrotask(this.drain);
    }
  }

  private grow(): (Runnable | undefined)[] {
    const old = this.queue;
    const n = old.length;
    const next = new Array<Runnable | undefined>(n << 1);
    for (let k = 0; k < n; k++) next[k] = old[(this.head + k) & (n - 1)];
    this.queue = next;
    this.head = 0;
    return next;
  }

  private readonly endOfTurn = (): void => {
    this.markerArmed = false;
    this.overSlice = false;
  };

  /** Drains outside any handler's tracked run (see handler-scope.ts). */
  private readonly drain = (): void => untracked(this.drainQueue);

  private readonly drainQueue = (): void => {
    // drainScheduled stays true while draining, so tells made by handlers queue no more drains.
    if (!this.markerArmed) {
      // First drain of this event-loop turn: a new slice starts.
      this.markerArmed = true;
      this.sliceStart = performance.now();
      this.sinceCheck = 0;
      setImmediate(this.endOfTurn);
    }
    let handled = 0;
    try {
      while (this.count > 0) {
        const queue = this.queue;
        const actor = queue[this.head]!;
        queue[this.head] = undefined;
        this.head = (this.head + 1) & (queue.length - 1);
        this.count--;
        const n = actor.run();
        handled += n;
        if ((this.sinceCheck += n) >= CHECK_EVERY) {
          this.sinceCheck = 0;
          // Out of time for this turn: let timers and I/O in, continue after them.
          if (performance.now() - this.sliceStart > SLICE_MS) {
            this.overSlice = true;
            break;
          }
        }
      }
    } finally {
      this.handled += handled;
      // Work left (time slice over, or a run() threw): continue on the next turn.
      this.drainScheduled = this.count > 0;
      if (this.drainScheduled) setImmediate(this.drain);
    }
  };

  /** Actors waiting to run. */
  get depth(): number {
    return this.count;
  }
}
