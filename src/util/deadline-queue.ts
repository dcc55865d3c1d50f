/**
 * Deadlines for many pending things (asks, resilient calls, hedge triggers) on one clock timer.
 *
 * A timer per entry would dominate the cost of a fast call, so entries live in intrusive
 * doubly-linked lists, one list per recurring timeout value (a system's default ask timeout, a
 * wrapper's fixed timeout). The clock only moves forward, so appending keeps each list sorted by
 * deadline: adding and removing are O(1). An entry whose timeout value does not recur (a pool
 * passing on what is left of its caller's deadline) goes alone into a binary min-heap by deadline
 * instead, O(log n), so that the bookkeeping stays bounded by the entries pending. One clock
 * timer, armed for the earliest deadline, sweeps the lists and the heap when it fires; removing
 * an entry (the call settled first) only unlinks it.
 *
 * Two ways to stamp an entry, chosen per queue:
 * - `'clock'` (default): deadline = clock.now() + timeoutMs at `add`. Exact; the timer is
 *   re-armed when an entry is due before the one it is armed for.
 * - `'turn'`: an entry of a shared list is stamped with the open *turn* instead of a clock read
 *   (a clock read costs more than the rest of a fast call). A sweep armed with delay 0 as soon as
 *   a turn holds an entry closes it and records its end; the entry is due `timeoutMs` after the
 *   end of its turn: never early (the turn ended after the entry was added), late by at most the
 *   rest of the event-loop turn it was added in plus a timer tick (0 on a SimulatedClock). One-off
 *   entries (the heap) still read the clock. An empty turn-stamped queue keeps no timer (it would
 *   only keep the process alive); a clock-stamped one leaves an armed timer be rather than
 *   re-arming it on every add (it fires once, finds nothing and is not re-armed), but unref'd:
 *   the timer holds the host's event loop open only while an entry is pending (someone awaits
 *   it), so a host that forgets to shut the system down exits once its asks have settled.
 */
import { type Clock, refTimer, type TimerHandle, unrefTimer } from './clock.js';
import { LinkedList } from './linked-list.js';

/** The span between two sweeps of a turn-stamped queue. `count` is free for callers pacing
 *  work per turn (resilient() samples latency by it). */
export class Turn {
  /** Clock reading at the sweep that closed it; Infinity while open. */
  end = Infinity;
  count = 0;
}

/** Something with a deadline. Subclass it: the queue links it in place, allocating nothing. */
export abstract class DeadlineEntry {
  /** When it is due, on the queue's clock (an entry of a turn-stamped list: see `dueAt`). */
  deadline = 0;
  /** The turn it was stamped with, or null when `deadline` was read from the clock. */
  turn: Turn | null = null;
  prev: DeadlineEntry | null = null;
  next: DeadlineEntry | null = null;
  /** The list holding it; null once removed or expired. */
  list: DeadlineList | null = null;
  /** Called once the queue has unlinked it because its deadline passed. May add entries. */
  abstract expire(timeoutMs: number): void;
}

/** When `entry`, held in a list of `timeoutMs`, is due (Infinity while its turn is open). */
export function dueAt(entry: DeadlineEntry, timeoutMs: number): number {
  const turn = entry.turn;
  return turn === null ? entry.deadline : turn.end + timeoutMs;
}

/** The entries of one timeout value, in deadline order; or, in the heap, one entry alone. */
export class DeadlineList extends LinkedList<DeadlineEntry> {
  /** Position in the heap when this list holds a one-off entry; -1 for a shared list. */
  index = -1;

  constructor(readonly timeoutMs: number) {
    super();
  }
}

export interface DeadlineQueueOptions {
  /** How entries of shared lists are stamped (see the file header). Default 'clock'. */
  stamp?: 'clock' | 'turn';
}

/** Timeout values that missed a list lately: one coming back gets a list of its own. */
const RECENT = 4;
/** Shared lists at most (empty ones go at the next sweep); beyond, entries go to the heap. */
export const MAX_LISTS = 64;

export class DeadlineQueue<E extends DeadlineEntry = DeadlineEntry> {
  /** Shared lists, one per recurring timeout value. */
  private readonly lists = new Map<number, DeadlineList>();
  /** The list used last (most entries repeat one timeout): skips the Map lookup. */
  private last: DeadlineList | null = null;
  /** One-off entries, each in a list of its own, as a binary min-heap by deadline. */
  private readonly heap: DeadlineList[] = [];
  private readonly recent: number[] = new Array<number>(RECENT).fill(-1);
  private recentAt = 0;
  private readonly byTurn: boolean;
  private timer: TimerHandle | null = null;
  /** What the timer is armed for: a deadline, Infinity for nothing, -Infinity for a turn close. */
  private armedFor = Infinity;
  /** The armed timer was unref'd: nothing is pending (see the file header). */
  private idle = false;
  /** The open turn (turn-stamped queues close it at every sweep). */
  turn = new Turn();
  /** Entries waiting for their deadline. */
  pending = 0;

  constructor(
    private readonly clock: Clock,
    options: DeadlineQueueOptions = {},
  ) {
    this.byTurn = options.stamp === 'turn';
  }

  now(): number {
    return this.clock.now();
  }

  /** Lists and heap entries held: at most MAX_LISTS plus one per pending one-off entry,
   *  whatever the number of distinct timeouts. */
  get held(): number {
    return this.lists.size + this.heap.length;
  }

  add(entry: E, timeoutMs: number): void {
    const last = this.last;
    if (last !== null && last.timeoutMs === timeoutMs && !this.byTurn) {
      // Hot path of a clock-stamped queue (asks with the usual timeout): one clock read, an
      // append; the timer is only re-armed for an earlier deadline (never, in a shared list).
      const deadline = this.clock.now() + timeoutMs;
      entry.list = last;
      entry.deadline = deadline;
      entry.turn = null;
      last.append(entry);
      if (this.pending++ === 0 && this.idle) this.hold();
      if (deadline < this.armedFor) this.arm(deadline);
      return;
    }
    if (this.byTurn && last !== null && last.timeoutMs === timeoutMs) {
      // Hot path of a turn-stamped queue (the list used last is a shared one): no clock read, no
      // map lookup, no timer unless the turn is new. Kept this small so that V8 inlines `add`
      // into the caller; everything else is in addSlow.
      entry.list = last;
      entry.turn = this.turn;
      last.append(entry);
      this.pending++;
      if (this.armedFor !== -Infinity) this.armClose();
    } else this.addSlow(entry, timeoutMs);
  }

  private addSlow(entry: E, timeoutMs: number): void {
    let list = this.last;
    if (list === null || list.timeoutMs !== timeoutMs) {
      list = this.lists.get(timeoutMs) ?? this.listFor(timeoutMs);
      if (list.index < 0) this.last = list;
    }
    entry.list = list;
    if (this.pending++ === 0 && this.idle) this.hold();
    if (this.byTurn && list.index < 0) {
      entry.turn = this.turn;
      list.append(entry);
      if (this.armedFor !== -Infinity) this.armClose();
      return;
    }
    // stamped by the clock: in a shared list of a clock-stamped queue, or alone in the heap
    const deadline = this.clock.now() + timeoutMs;
    entry.deadline = deadline;
    entry.turn = null;
    list.append(entry);
    if (list.index >= 0) this.siftUp(list);
    if (this.byTurn) {
      if (this.armedFor !== -Infinity) this.armClose();
    } else if (deadline < this.armedFor) this.arm(deadline);
  }

  remove(entry: E): void {
    const list = entry.list!;
    list.unlink(entry);
    entry.list = null;
    if (list.index >= 0) this.heapRemove(list);
    if (--this.pending === 0) this.emptied();
  }

  /** Nothing pending: a turn-stamped queue drops its timer, a clock-stamped one lets it go idle. */
  private emptied(): void {
    if (this.byTurn) {
      if (this.armedFor !== -Infinity) this.disarm();
    } else if (this.timer !== null && !this.idle) {
      unrefTimer(this.timer);
      this.idle = true;
    }
  }

  /** An entry arrived while the armed timer was idle: it holds the event loop again. */
  private hold(): void {
    refTimer(this.timer);
    this.idle = false;
  }

  /** Ends every pending entry with `end` (shutdown: the owner fails it) and disarms the timer. */
  failAll(end: (entry: E) => void): void {
    for (const list of this.lists.values()) {
      while (list.head !== null) this.settle(list.head as E, end);
    }
    while (this.heap.length > 0) this.settle(this.heap[0]!.head as E, end);
    this.lists.clear();
    this.last = null;
    this.disarm();
  }

  /** Arms a sweep at delay 0, which closes the open turn (no-op when one is armed). */
  endTurnSoon(): void {
    if (this.armedFor !== -Infinity) this.armClose(); // small: inlined where called per call
  }

  private armClose(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.armedFor = -Infinity;
    this.idle = false;
    this.timer = this.clock.setTimeout(this.sweep, 0);
  }

  /**
   * The list for a value that has none: a shared one if the value came lately (it recurs),
   * else a one-off list entering the heap. A pool's worker asks get what is left of their
   * caller's deadline, a new value almost every time: a shared list each would stay in the map
   * until a sweep, and make every sweep longer. Values that only look recurring (a coarse clock
   * repeats small remainders) are held off by the cap.
   */
  private listFor(timeoutMs: number): DeadlineList {
    const list = new DeadlineList(timeoutMs);
    if (this.lists.size < MAX_LISTS && this.recent.includes(timeoutMs)) {
      this.lists.set(timeoutMs, list);
      return list;
    }
    this.recent[this.recentAt] = timeoutMs;
    this.recentAt = (this.recentAt + 1) % RECENT;
    list.index = this.heap.push(list) - 1; // sifted up once its entry is in
    return list;
  }

  private settle(entry: E, end: (entry: E) => void): void {
    end(entry);
    if (entry.list !== null) this.remove(entry); // ending must unlink it; never loop on it
  }

  private arm(deadline: number): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.armedFor = deadline;
    this.idle = false;
    this.timer = this.clock.setTimeout(this.sweep, Math.max(0, deadline - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
    this.idle = false;
  }

  private readonly sweep = (): void => {
    this.timer = null;
    this.armedFor = Infinity;
    this.idle = false;
    const now = this.clock.now();
    this.turn.end = now;
    this.turn = new Turn();
    let earliest = Infinity;
    for (const [timeoutMs, list] of this.lists) {
      let head = list.head;
      while (head !== null && dueAt(head, timeoutMs) <= now) {
        this.remove(head as E);
        head.expire(timeoutMs); // may add entries: they land after `now` (and in the new turn)
        head = list.head;
      }
      if (head !== null) {
        const due = dueAt(head, timeoutMs);
        if (due < earliest) earliest = due;
      } else {
        this.lists.delete(timeoutMs);
        if (this.last === list) this.last = null;
      }
    }
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.head!.deadline <= now) {
      const list = heap[0]!;
      const entry = list.head!;
      this.remove(entry as E);
      entry.expire(list.timeoutMs);
    }
    if (heap.length > 0 && heap[0]!.head!.deadline < earliest) earliest = heap[0]!.head!.deadline;
    // an expire that added an entry may have armed the timer already (-Infinity: a turn close)
    if (earliest < this.armedFor) this.arm(earliest);
  };

  // ---- the heap of one-off entries, by deadline ----

  private heapRemove(list: DeadlineList): void {
    const heap = this.heap;
    const i = list.index;
    list.index = -1;
    const moved = heap.pop()!;
    if (moved === list) return;
    heap[i] = moved;
    moved.index = i;
    this.siftDown(moved);
    this.siftUp(moved);
  }

  private siftUp(list: DeadlineList): void {
    const heap = this.heap;
    const deadline = list.head!.deadline;
    let i = list.index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent]!;
      if (above.head!.deadline <= deadline) break;
      heap[i] = above;
      above.index = i;
      i = parent;
    }
    heap[i] = list;
    list.index = i;
  }

  private siftDown(list: DeadlineList): void {
    const heap = this.heap;
    const n = heap.length;
    const deadline = list.head!.deadline;
    let i = list.index;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.head!.deadline < heap[child]!.head!.deadline) child++;
      const below = heap[child]!;
      if (below.head!.deadline >= deadline) break;
      heap[i] = below;
      below.index = i;
      i = child;
    }
    heap[i] = list;
    list.index = i;
  }
}
