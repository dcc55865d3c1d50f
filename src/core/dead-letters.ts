/**
 * Dead letters: every message that could not be delivered or handled ends here with its reason
 * — nothing is dropped silently. A bounded ring keeps the newest entries; counts by reason are
 * kept for all of them.
 */
import type { Logger } from 'pino';

/**
 * Why a message became a dead letter.
 *
 * @example
 * ```ts
 * const poison = system.deadLetters.counts().crashed ?? 0;
 * ```
 */
export type DeadLetterReason =
  /** sent to, or queued at, an actor that stopped */
  | 'stopped'
  /** refused by a full mailbox with overflow 'reject' */
  | 'rejected'
  /** evicted from a full mailbox with overflow 'drop-oldest' */
  | 'dropped-oldest'
  /** refused by a full mailbox with overflow 'drop-newest' */
  | 'dropped-newest'
  /** its handler crashed the actor (the poison message) */
  | 'crashed'
  /** an event whose subscriber could not take it */
  | 'undeliverable'
  /** an ask whose caller had given up, or whose deadline had passed, before it was handled */
  | 'expired';

/**
 * One message that could not be delivered or handled.
 *
 * @example
 * ```ts
 * for (const { path, reason, message } of system.deadLetters.list()) console.log(path, reason, message);
 * ```
 */
export interface DeadLetter {
  /** Path of the intended receiver. */
  path: string;
  message: unknown;
  reason: DeadLetterReason;
  /** Wall-clock time (ms since the epoch). */
  at: number;
  /** The crash, for reason 'crashed'. */
  error?: unknown;
}

/**
 * The dead letters of a system (`system.deadLetters`): a bounded ring of the newest entries
 * (`deadLetterCapacity`, default 1000) and counts by reason since start.
 *
 * @example
 * ```ts
 * await system.stop(counter);
 * counter.tell({ type: 'get' });   // false
 * system.deadLetters.list().at(-1);   // { path: '/counter', message: { type: 'get' }, reason: 'stopped', at }
 * system.deadLetters.counts();        // { stopped: 1 }
 * ```
 */
export class DeadLetters {
  private readonly ring: (DeadLetter | undefined)[];
  private next = 0;
  private stored = 0;
  private readonly byReason = new Map<DeadLetterReason, number>();
  /** Dead letters recorded since start (the ring keeps only the newest). */
  total = 0;

  constructor(
    readonly capacity: number,
    private readonly logger: Logger,
  ) {
    this.ring = new Array(capacity);
  }

  /** Records one dead letter (the runtime does; logged at debug). */
  record(path: string, message: unknown, reason: DeadLetterReason, error?: unknown): void {
    const letter: DeadLetter = { path, message, reason, at: Date.now() };
    if (error !== undefined) letter.error = error;
    this.ring[this.next] = letter;
    this.next = (this.next + 1) % this.capacity;
    if (this.stored < this.capacity) this.stored++;
    this.total++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ path, reason }, 'dead letter');
  }

  /** The newest dead letters, oldest first, newest last. */
  list(): DeadLetter[] {
    const out: DeadLetter[] = [];
    const start = (this.next - this.stored + this.capacity) % this.capacity;
    for (let i = 0; i < this.stored; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }

  /** How many dead letters per reason since start. */
  counts(): Partial<Record<DeadLetterReason, number>> {
    return Object.fromEntries(this.byReason) as Partial<Record<DeadLetterReason, number>>;
  }

  /** Empties the ring; `counts()` and `total` keep counting since start. */
  clear(): void {
    this.ring.fill(undefined);
    this.next = this.stored = 0;
  }
}
