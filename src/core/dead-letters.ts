/**
 * Dead letters: every message that could not be delivered or handled ends here with its reason
 * — nothing is dropped silently. A bounded ring keeps the newest entries; counts by reason are
 * kept for all of them.
 */
import type { Logger } from 'pino';

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
  | 'undeliverable';

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

  clear(): void {
    this.ring.fill(undefined);
    this.next = this.stored = 0;
  }
}
