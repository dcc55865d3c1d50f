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

/** A call waiting for a slot; `resolve` null once its caller gave up (skipped on leave). */
interface Waiter {
  resolve: (() => void) | null;
}

export class Bulkhead {
  running = 0;
  /** Calls waiting for a slot, oldest first from `head` (no shift per call). */
  private waiting: Waiter[] = [];
  private head = 0;
  /** Waiting calls whose callers still wait (gave-up ones stay in the array until skipped). */
  private live = 0;

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  get queued(): number {
    return this.live;
  }

  /**
   * A slot now (true), a slot once one frees (a promise), or refused (null): full. A waiting
   * call whose `signal` aborts leaves the queue at once, rejected with the signal's reason.
   */
  enter(signal?: AbortSignal): true | Promise<void> | null {
    if (this.running < this.maxConcurrent) {
      this.running++;
      return true;
    }
    if (this.live >= this.maxQueue) return null;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve };
      this.waiting.push(waiter);
      this.live++;
      if (signal === undefined) return;
      const onAbort = () => {
        if (waiter.resolve === null) return;
        waiter.resolve = null; // skipped when a slot frees
        this.live--;
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.resolve = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
    });
  }

  /** A call left its slot: it passes to the oldest call still waiting, if any. */
  leave(): void {
    while (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      if (next.resolve === null) continue; // its caller gave up
      this.live--;
      next.resolve(); // the slot stays taken: running is unchanged
      return;
    }
    this.running--;
  }
}
