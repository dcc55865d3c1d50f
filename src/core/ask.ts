/**
 * Pending asks and their deadlines.
 *
 * A timer per ask would dominate the cost of an ask, so deadlines live in intrusive doubly-linked
 * lists, one list per recurring timeout value (the system's default, a caller's fixed timeout).
 * The clock only moves forward, so appending keeps each list sorted by deadline: adding and
 * removing are O(1). An ask whose timeout value does not recur (a pool passing on what is left of
 * its caller's deadline) goes alone into a binary heap by deadline instead, O(log n), so that
 * the bookkeeping stays bounded by the asks pending. A single clock timer armed for the earliest
 * deadline sweeps the lists and the heap when it fires. A reply only unlinks its ask; the shared
 * timer is never re-armed on the hot path.
 */
import type { Admission, Breaker } from '../resilience/breaker.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { ActorStoppedError, MailboxFullError, TimeoutError } from '../util/errors.js';
import { LinkedList } from '../util/linked-list.js';

/** The bookkeeping an actor keeps about asks: what it waits on, which replies it deferred. */
export interface AskParty {
  /** Asks this actor's current handler has outstanding (deadlock detection). */
  waitingOn: PendingAsk[] | null;
  /** Asks this one took over with `ctx.deferReply()` and has not answered yet. */
  deferred: Set<PendingAsk> | null;
}

/**
 * One ask in flight. Asks are also the nodes of the wait-for graph deadlock detection walks: an
 * ask waits on its target's handler (while that holds the mailbox), and a deferred ask on the
 * asks its forwarder made on its behalf (`dependents`).
 */
export class PendingAsk {
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  readonly promise: Promise<unknown>;
  settled = false;
  deadline = 0;
  prev: PendingAsk | null = null;
  next: PendingAsk | null = null;
  list: DeadlineList | null = null;
  /** The asker's `waitingOn` list this ask was added to (deadlock detection). */
  waitList: PendingAsk[] | null = null;
  /** The deferred ask this one was made on behalf of, if any. */
  cause: PendingAsk | null = null;
  /** Asks made on behalf of this one by the actor handling it (a forwarder, a pool). */
  dependents: PendingAsk[] | null = null;
  /** The actor that deferred its reply, until it answers. */
  deferredBy: AskParty | null = null;
  /** Removes the AbortSignal listener, when the caller passed a signal. */
  onSettle: (() => void) | null = null;
  /** The target's breaker, told how the ask went; with the admission it gave. */
  breaker: Breaker | null = null;
  admission: Admission = 0;

  constructor(
    readonly deadlines: AskDeadlines,
    /** Path of the actor asked. */
    readonly path: string,
    /** The asking actor when the ask came from inside one, for deadlock detection. */
    readonly from: AskParty | null,
    /** The actor asked, for deadlock detection. */
    readonly to: AskParty,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Resolves the ask; false when it had already ended (timed out, replied, failed). */
  succeed(value: unknown): boolean {
    if (this.settled) return false;
    const breaker = this.breaker;
    if (breaker !== null && this.list !== null) {
      // One ask in LATENCY_SAMPLE is timed (a clock read costs ~10% of an ask); the latency
      // window needs a sample, not every call. deadline − timeout = when the ask started.
      const timed = (++latencySample & (LATENCY_SAMPLE - 1)) === 0;
      breaker.success(timed ? this.deadlines.now() - (this.deadline - this.list.timeoutMs) : -1, this.admission);
    }
    this.finish();
    this.resolve(value);
    return true;
  }

  fail(error: unknown): boolean {
    if (this.settled) return false;
    const breaker = this.breaker;
    if (breaker !== null) {
      // The target timing out, crashing or drowning counts against it; a missing reply or a
      // shutdown says nothing about its health.
      if (countsAgainstTarget(error)) breaker.failure(this.admission);
      else breaker.release(this.admission);
    }
    this.finish();
    this.reject(error);
    return true;
  }

  /**
   * The caller gave up (its signal aborted: its own timeout, a hedge it no longer needs): the
   * ask ends with `reason`, which never counts against the target, whatever it is.
   */
  abandon(reason: unknown): boolean {
    if (this.settled) return false;
    this.breaker?.release(this.admission);
    this.finish();
    this.reject(reason);
    return true;
  }

  private finish(): void {
    this.settled = true;
    if (this.list !== null) this.deadlines.remove(this);
    // Leave the waiting list this ask joined; if the asker's handler has ended meanwhile, that
    // list is gone and a newer handler's entries must not be touched.
    const waitList = this.waitList;
    if (waitList !== null) {
      const i = waitList.indexOf(this);
      if (i >= 0) waitList.splice(i, 1);
    }
    const dependents = this.cause?.dependents;
    if (dependents != null) {
      const i = dependents.indexOf(this);
      if (i >= 0) dependents.splice(i, 1);
    }
    if (this.deferredBy !== null) this.deferredBy.deferred?.delete(this);
    if (this.onSettle !== null) this.onSettle();
  }
}

const LATENCY_SAMPLE = 4; // a power of two
let latencySample = 0;

/** Every crash of the target counts (whatever it threw), as do its timeouts and a full mailbox. */
function countsAgainstTarget(error: unknown): boolean {
  return error instanceof TimeoutError || error instanceof MailboxFullError || (error instanceof ActorStoppedError && error.crashed);
}

/** The asks of one timeout value, in deadline order; or, in the heap, one ask alone. */
class DeadlineList extends LinkedList<PendingAsk> {
  /** Position in AskDeadlines' heap when this list holds a one-off ask; -1 for a shared list. */
  index = -1;

  constructor(readonly timeoutMs: number) {
    super();
  }
}

/** Timeout values that missed a list lately: one coming back gets a list of its own. */
const RECENT = 4;
/** Shared lists at most (empty ones go at the next sweep); beyond, asks go to the heap. */
const MAX_LISTS = 64;

export class AskDeadlines {
  /** Shared lists, one per recurring timeout value. */
  private readonly lists = new Map<number, DeadlineList>();
  /** The list used last (most asks repeat one timeout): skips the Map lookup. */
  private last: DeadlineList | null = null;
  /** One-off asks, each in a list of its own, as a binary min-heap by deadline. */
  private readonly heap: DeadlineList[] = [];
  private readonly recent: number[] = new Array<number>(RECENT).fill(-1);
  private recentAt = 0;
  private timer: TimerHandle | null = null;
  private armedFor = Infinity;
  /** Asks waiting for a reply. */
  pending = 0;

  now(): number {
    return this.clock.now();
  }

  constructor(
    private readonly clock: Clock,
    private readonly expire: (ask: PendingAsk, timeoutMs: number) => void,
  ) {}

  /** @internal Lists and heap entries held: at most MAX_LISTS plus one per pending one-off ask,
   *  whatever the number of distinct timeouts (tests check it). */
  get held(): number {
    return this.lists.size + this.heap.length;
  }

  add(ask: PendingAsk, timeoutMs: number): void {
    let list = this.last;
    if (list === null || list.timeoutMs !== timeoutMs) {
      list = this.lists.get(timeoutMs) ?? this.listFor(timeoutMs);
      if (list.index < 0) this.last = list;
    }
    const deadline = this.clock.now() + timeoutMs;
    ask.deadline = deadline;
    ask.list = list;
    list.append(ask);
    if (list.index >= 0) this.siftUp(list);
    this.pending++;
    if (deadline < this.armedFor) this.arm(deadline);
  }

  remove(ask: PendingAsk): void {
    const list = ask.list!;
    list.unlink(ask);
    ask.list = null;
    this.pending--;
    if (list.index >= 0) this.heapRemove(list);
  }

  /** Fails every pending ask with `error` (shutdown) and disarms the timer. */
  failAll(error: () => unknown): void {
    for (const list of this.lists.values()) {
      while (list.head !== null) this.settle(list.head, error());
    }
    while (this.heap.length > 0) this.settle(this.heap[0]!.head!, error());
    this.lists.clear();
    this.last = null;
    this.disarm();
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
    list.index = this.heap.push(list) - 1; // sifted up once its ask is in
    return list;
  }

  private settle(ask: PendingAsk, error: unknown): void {
    ask.fail(error);
    if (ask.list !== null) this.remove(ask); // failing must unlink it; never loop on it
  }

  private arm(deadline: number): void {
    this.disarm();
    this.armedFor = deadline;
    this.timer = this.clock.setTimeout(this.sweep, Math.max(0, deadline - this.clock.now()));
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = Infinity;
  }

  private readonly sweep = (): void => {
    this.timer = null;
    this.armedFor = Infinity;
    const now = this.clock.now();
    let earliest = Infinity;
    for (const [timeoutMs, list] of this.lists) {
      let head = list.head;
      while (head !== null && head.deadline <= now) {
        this.expire(head, timeoutMs); // settles the ask, which unlinks it
        if (list.head === head) this.remove(head); // expire must not leave it linked
        head = list.head;
      }
      if (head !== null) {
        if (head.deadline < earliest) earliest = head.deadline;
      } else {
        this.lists.delete(timeoutMs);
        if (this.last === list) this.last = null;
      }
    }
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.head!.deadline <= now) {
      const list = heap[0]!;
      const ask = list.head!;
      this.expire(ask, list.timeoutMs);
      if (ask.list === list) this.remove(ask);
    }
    if (heap.length > 0 && heap[0]!.head!.deadline < earliest) earliest = heap[0]!.head!.deadline;
    if (earliest !== Infinity && earliest < this.armedFor) this.arm(earliest);
  };

  // ---- the heap of one-off asks, by deadline ----

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
