/**
 * The bulkhead policy: at most `maxConcurrent` calls of a wrapper run at once, up to `maxQueue`
 * more wait in order for a slot, and any beyond are refused at once with OverloadedError — an
 * overload is refused early and cheaply, not discovered late by a timeout. It sits just inside
 * the fallback: a call holds its slot across its retries, and a refused call may still degrade.
 */
import { ConfigError } from '../util/errors.js';
import { checkObject, knownKeys, positiveInteger } from '../util/options.js';

export interface BulkheadPolicy {
  /** Calls running at once. */
  maxConcurrent: number;
  /** Calls waiting for a slot, in order (default 0: none wait). */
  maxQueue?: number;
}

export function resolveBulkhead(policy: BulkheadPolicy | undefined): Bulkhead | null {
  if (policy === undefined) return null;
  checkObject('bulkhead', policy);
  knownKeys('bulkhead', policy, ['maxConcurrent', 'maxQueue']);
  const maxConcurrent = positiveInteger('bulkhead.maxConcurrent', policy.maxConcurrent);
  const maxQueue = policy.maxQueue ?? 0;
  if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new ConfigError('bulkhead.maxQueue', `must be an integer ≥ 0 (got ${String(policy.maxQueue)})`);
  return new Bulkhead(maxConcurrent, maxQueue);
}

export class Bulkhead {
  running = 0;
  /** Calls waiting for a slot, oldest first from `head` (no shift per call). */
  private waiting: (() => void)[] = [];
  private head = 0;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  get queued(): number {
    return this.waiting.length - this.head;
  }

  /** A slot now (true), a slot once one frees (a promise), or refused (null): full. */
  enter(): true | Promise<void> | null {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return true;
    }
    if (this.queued >= this.maxQueue) return null;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** A call left its slot: it passes to the oldest waiting call, if any. */
  leave(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      next(); // the slot stays taken: running is unchanged
      return;
    }
    this.running--;
  }
}
