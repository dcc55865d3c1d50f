/**
 * The mailbox of one actor: a system lane that jumps every priority, then five priority lanes
 * (0 highest … 4 lowest). Each lane is a growable ring buffer holding pairs (message, meta):
 * `meta` is undefined for a plain tell, a PendingAsk for an ask, or an internal tag for events
 * and signals. Storing the pair inline means a tell allocates nothing.
 *
 * Only the priority lanes count toward `capacity`; system messages are never refused.
 */

import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveInteger, show } from '../util/options.js';

export const PRIORITIES = 5;
export const DEFAULT_PRIORITY = 2;
/** Lane index of system messages; user priority p lives in lane p + 1. */
export const SYSTEM_LANE = 0;
/** Lane of the lowest priority. */
export const LAST_LANE = PRIORITIES;

/**
 * What a full mailbox does with one more message: refuse it (`tell` returns false, `ask`
 * rejects with MailboxFullError), evict the oldest message of the least urgent non-empty priority
 * (which may be the newcomer itself), or drop the newcomer. What is refused or evicted goes to
 * dead letters.
 *
 * @example
 * ```ts
 * system.spawn(PriceFeed, { mailbox: { capacity: 1_000, overflow: 'drop-oldest' } });
 * ```
 */
export type OverflowPolicy = 'reject' | 'drop-oldest' | 'drop-newest';

/**
 * The `mailbox` option of an actor.
 *
 * @example
 * ```ts
 * system.spawn(Journal, { mailbox: { capacity: 10_000, overflow: 'reject', batchSize: 500, throughput: 50 } });
 * ```
 */
export interface MailboxOptions {
  /** Most messages held across the priority lanes (default: unbounded). */
  capacity?: number;
  /** What happens to a message that arrives at a full mailbox (default 'reject'). */
  overflow?: OverflowPolicy;
  /** Most messages in one `receiveBatch` call (default 100). */
  batchSize?: number;
  /** Most messages an actor handles before yielding to other ready actors (default 100). */
  throughput?: number;
}

/** Resolved, validated mailbox settings; shared between actors spawned with the same options. */
export interface MailboxConfig {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly batchSize: number;
  readonly throughput: number;
}

export const DEFAULT_MAILBOX: MailboxConfig = Object.freeze({
  capacity: Infinity,
  overflow: 'reject',
  batchSize: 100,
  throughput: 100,
});

const OVERFLOW = ['reject', 'drop-oldest', 'drop-newest'];

const mailboxCache = new WeakMap<MailboxOptions, MailboxConfig>();

/** Validates mailbox options once per options object (spawning many actors with one object is cheap). */
export function mailboxConfig(options: MailboxOptions | undefined, option = 'mailbox'): MailboxConfig {
  if (options === undefined) return DEFAULT_MAILBOX;
  const cached = mailboxCache.get(options);
  if (cached) return cached;
  checkObject(option, options);
  knownKeys(option, options, ['capacity', 'overflow', 'batchSize', 'throughput']);
  const overflow = options.overflow ?? DEFAULT_MAILBOX.overflow;
  if (!OVERFLOW.includes(overflow)) {
    throw new ConfigError(`${option}.overflow`, `must be one of ${OVERFLOW.map(show).join(', ')} (got ${show(overflow)})`);
  }
  const config: MailboxConfig = Object.freeze({
    capacity: options.capacity === undefined ? DEFAULT_MAILBOX.capacity : positiveInteger(`${option}.capacity`, options.capacity, true),
    overflow,
    batchSize: options.batchSize === undefined ? DEFAULT_MAILBOX.batchSize : positiveInteger(`${option}.batchSize`, options.batchSize),
    throughput: options.throughput === undefined ? DEFAULT_MAILBOX.throughput : positiveInteger(`${option}.throughput`, options.throughput),
  });
  mailboxCache.set(options, config);
  return config;
}

/** Outcome of `Mailbox.offer`. */
export const enum Offer {
  Accepted = 0,
  /** The new message was refused (reject, drop-newest, or drop-oldest when it is the least
   *  important message); nothing changed. */
  Refused = 1,
  /** The new message went in and an older one was evicted: see `evicted`. */
  Evicted = 2,
}

/**
 * The pair evicted by the last `offer` that returned Offer.Evicted. Module-level rather than per
 * mailbox: the runtime is single-threaded and reads it right after the offer, and this keeps two
 * fields off every actor.
 */
export const evicted: { message: unknown; meta: unknown } = { message: undefined, meta: undefined };

class Lane {
  buf: unknown[] = new Array(16);
  head = 0;
  /** Number of pairs held. */
  count = 0;

  push(message: unknown, meta: unknown): void {
    let buf = this.buf;
    const slots = this.count << 1;
    if (slots === buf.length) buf = this.grow();
    // buf.length is a power of two, so `& (length - 1)` wraps the index.
    const i = (this.head + slots) & (buf.length - 1);
    buf[i] = message;
    buf[i + 1] = meta;
    this.count++;
  }

  unshift(message: unknown, meta: unknown): void {
    let buf = this.buf;
    if (this.count << 1 === buf.length) buf = this.grow();
    this.head = (this.head - 2) & (buf.length - 1);
    buf[this.head] = message;
    buf[this.head + 1] = meta;
    this.count++;
  }

  private grow(): unknown[] {
    const old = this.buf;
    const next = new Array(old.length << 1);
    const n = old.length;
    for (let k = 0; k < n; k++) next[k] = old[(this.head + k) & (n - 1)];
    this.buf = next;
    this.head = 0;
    return next;
  }
}

export class Mailbox {
  /** Lanes are created on first use: an idle actor pays for none. */
  private lanes: (Lane | undefined)[] | null = null;
  /** Bit i set ⇔ lane i holds messages. */
  private mask = 0;
  /** Messages held in the priority lanes (system lane excluded). */
  size = 0;
  /** Meta of the pair most recently taken. */
  meta: unknown = undefined;
  /** Lane index of the pair most recently taken. */
  lane = 0;

  constructor(readonly config: MailboxConfig) {}

  /** The lane the next message comes from (0: system; p + 1: priority p); -1 when empty. */
  get nextLane(): number {
    return 31 - Math.clz32(this.mask & -this.mask);
  }

  get isEmpty(): boolean {
    return this.mask === 0;
  }

  /** Messages queued per priority 0..4, and the system lane. */
  depths(): { system: number; byPriority: number[] } {
    const byPriority: number[] = [];
    for (let p = 0; p < PRIORITIES; p++) byPriority.push(this.lanes?.[p + 1]?.count ?? 0);
    return { system: this.lanes?.[SYSTEM_LANE]?.count ?? 0, byPriority };
  }

  /** Messages a new one at `priority` would wait behind: the system lane and priorities 0 … priority. */
  queuedAhead(priority: number): number {
    const lanes = this.lanes;
    if (lanes === null) return 0;
    let n = 0;
    for (let i = 0; i <= priority + 1; i++) n += lanes[i]?.count ?? 0;
    return n;
  }

  /** Enqueues a system message; never refused. */
  pushSystem(message: unknown, meta: unknown): void {
    this.laneAt(SYSTEM_LANE).push(message, meta);
    this.mask |= 1;
  }

  /** Enqueues a message at `priority` (0..4) under the capacity and overflow policy. */
  offer(priority: number, message: unknown, meta: unknown): Offer {
    const config = this.config;
    if (this.size >= config.capacity) {
      if (config.overflow !== 'drop-oldest') return Offer.Refused;
      // Evict the oldest message of the least important non-empty lane, counting the newcomer's.
      const victimLane = Math.max(priority + 1, 31 - Math.clz32(this.mask & ~1));
      // The newcomer itself is the least important message: it is the one dropped.
      if (!(this.mask & (1 << victimLane))) return Offer.Refused;
      evicted.message = this.shiftLane(victimLane);
      evicted.meta = this.meta;
      this.size--;
      this.pushUser(priority, message, meta);
      return Offer.Evicted;
    }
    this.pushUser(priority, message, meta);
    return Offer.Accepted;
  }

  private pushUser(priority: number, message: unknown, meta: unknown): void {
    const index = priority + 1;
    this.laneAt(index).push(message, meta);
    this.mask |= 1 << index;
    this.size++;
  }

  /** Puts a message back at the front of lane `index` (redelivery after a crash). */
  pushFront(index: number, message: unknown, meta: unknown): void {
    this.laneAt(index).unshift(message, meta);
    this.mask |= 1 << index;
    if (index !== SYSTEM_LANE) this.size++;
  }

  /**
   * Takes the next message: system lane first, then priority 0 … 4, FIFO within a lane.
   * Returns it and leaves its meta in `this.meta` and its lane in `this.lane`.
   * Must not be called on an empty mailbox.
   */
  take(): unknown {
    // Lowest set bit = most urgent non-empty lane.
    const index = 31 - Math.clz32(this.mask & -this.mask);
    this.lane = index;
    if (index !== SYSTEM_LANE) this.size--;
    return this.shiftLane(index);
  }

  /** True when the next message is a plain tell in the lane just taken from (for batching). */
  nextIsTellInLane(index: number): boolean {
    const lowest = 31 - Math.clz32(this.mask & -this.mask);
    if (this.mask === 0 || lowest !== index) return false;
    const lane = this.lanes![index]!;
    return lane.buf[lane.head + 1] === undefined;
  }

  private shiftLane(index: number): unknown {
    const lane = this.lanes![index]!;
    const buf = lane.buf;
    const head = lane.head;
    const message = buf[head];
    this.meta = buf[head + 1];
    buf[head] = undefined; // let the GC have it
    buf[head + 1] = undefined;
    lane.head = (head + 2) & (buf.length - 1);
    if (--lane.count === 0) {
      lane.head = 0;
      this.mask &= ~(1 << index);
    }
    return message;
  }

  private laneAt(index: number): Lane {
    const lanes = (this.lanes ??= [undefined, undefined, undefined, undefined, undefined, undefined]);
    return (lanes[index] ??= new Lane());
  }
}
