/**
 * One run of the wrapped function: the `ctx` it gets (`{ signal, attempt, hedge }`), and how it
 * is called. The AbortController behind `signal` is made on first read: a function that never
 * reads it costs none.
 */
import { DeadlineEntry } from '../util/deadline-queue.js';

/**
 * Told when an ask made for an attempt waits in a mailbox, and when an actor's handler takes it
 * (core/asking.ts, core/run-loop.ts). Its 'auto' timeout and its latency sample count service
 * time, not the time the ask waited in a queue — queueing is bounded by admission control and
 * the ask's own deadline, not mistaken for a slow target.
 */
export interface ServiceObserver {
  /** An ask made for it waits in a mailbox. */
  serviceQueued(): void;
  /** A handler took that ask now. */
  serviceStarted(at: number): void;
}

/** The attempt whose fn runs synchronously now (asks made in it are its service). */
const running: { attempt: Attempt | null } = { attempt: null };
/** Attempts by the signal they handed out (asks made after an await pass the signal on). */
const bySignal = new WeakMap<AbortSignal, Attempt>();

/**
 * The attempt an ask made now serves: the one whose fn is running, else the one whose signal
 * the ask was given (`ref.ask(msg, { signal: ctx.signal })` after an await), else null.
 */
export function attemptServed(signal: AbortSignal | undefined): ServiceObserver | null {
  return running.attempt ?? (signal === undefined ? null : (bySignal.get(signal) ?? null));
}

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
export class Attempt extends DeadlineEntry implements AttemptContext, ServiceObserver {
  private controller: AbortController | null = null;
  /** When a service started on it (see ServiceObserver), -1 until then. */
  servedAt = -1;
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
      bySignal.set(controller.signal, this);
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

  serviceQueued(): void {}

  serviceStarted(at: number): void {
    this.servedAt = at;
  }

  expire(): void {}
}

/** The abort reason of a hedged attempt that lost the race. */
export function lostRace(): unknown {
  return new DOMException('a hedged sibling attempt succeeded first', 'AbortError');
}

/** fn(ctx, ...args), with ctx the running attempt meanwhile (see attemptServed). */
export function invoke<R>(fn: (ctx: AttemptContext, ...args: unknown[]) => R, ctx: Attempt, args: unknown[]): R {
  const outer = running.attempt;
  running.attempt = ctx;
  try {
    return call(fn, ctx, args);
  } finally {
    running.attempt = outer;
  }
}

/** fn(ctx, ...args) without a spread for the common arities. */
function call<R>(fn: (ctx: AttemptContext, ...args: unknown[]) => R, ctx: AttemptContext, args: unknown[]): R {
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
