/**
 * One run of the wrapped function: the `ctx` it gets (`{ signal, attempt, hedge }`), and how it
 * is called. The AbortController behind `signal` is made on first read: a function that never
 * reads it costs none.
 */
import { DeadlineEntry } from '../util/deadline-queue.js';

/** What the wrapped function gets as its first argument. */
export interface AttemptContext {
  /** Aborted on timeout (reason: the TimeoutError) or when a hedged sibling won (an AbortError).
   *  Created on first read: a function that never reads it costs no AbortController. */
  readonly signal: AbortSignal;
  /** 1 for the first try, 2 for the first retry, … */
  readonly attempt: number;
  /** 0 for the primary attempt of a try, 1 and 2 for hedged ones. */
  readonly hedge: number;
}

/**
 * The `ctx` of one run of fn. It is a DeadlineEntry because the primary attempt of a try is the
 * Try itself (one object per call on the hot path, see try.ts); hedged attempts are plain
 * Attempts, never queued, and leave the entry fields unused.
 */
export class Attempt extends DeadlineEntry implements AttemptContext {
  private controller: AbortController | null = null;
  private abortReason: unknown = undefined;
  aborted = false;
  /** Its fn run has settled (a settled loser is not aborted). */
  done = false;

  constructor(
    readonly attempt: number,
    readonly hedge: number,
    /** Clock reading at start, or -1 when this attempt's latency is not sampled. */
    readonly startedAt: number,
  ) {
    super();
  }

  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === null) {
      controller = this.controller = new AbortController();
      if (this.aborted) controller.abort(this.abortReason);
    }
    return controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    if (this.controller !== null) this.controller.abort(reason);
  }

  expire(): void {}
}

/** The abort reason of a hedged attempt that lost the race. */
export function lostRace(): unknown {
  return new DOMException('a hedged sibling attempt succeeded first', 'AbortError');
}

/** fn(ctx, ...args) without a spread for the common arities. */
export function invoke<R>(fn: (ctx: AttemptContext, ...args: unknown[]) => R, ctx: AttemptContext, args: unknown[]): R {
  switch (args.length) {
    case 0:
      return fn(ctx);
    case 1:
      return fn(ctx, args[0]);
    case 2:
      return fn(ctx, args[0], args[1]);
    default:
      return fn(ctx, ...args);
  }
}
