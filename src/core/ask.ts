/**
 * Pending asks. A timer per ask would dominate the cost of an ask: each ask is an entry of the
 * one deadline queue (util/deadline-queue.ts — intrusive lists per recurring timeout, a heap for
 * one-off deadlines, one clock timer), so a reply only unlinks it.
 */
import type { ServiceObserver } from '../resilience/attempt.js';
import type { Admission, Breaker } from '../resilience/breaker.js';
import { ActorStoppedError, GenesisError, MailboxFullError, TimeoutError } from '../util/errors.js';
import { DeadlineEntry, type DeadlineQueue } from '../util/deadline-queue.js';

/** The bookkeeping an actor keeps about asks: what it waits on, which replies it deferred. */
export interface AskParty {
  /** Asks this actor's current handler has outstanding (deadlock detection). */
  waitingOn: PendingAsk[] | null;
  /** Asks this one took over with `ctx.deferReply()` and has not answered yet. */
  deferred: Set<PendingAsk> | null;
  /** The system mode holds this actor back now (parked, or deferring low priorities). */
  readonly heldBack: boolean;
  /** A deferred ask of its timing out counts against it even while asks made for it were
   *  pending downstream (a pool with its own breaker counts the pool's outcomes as one). */
  readonly answersForForwarded: boolean;
}

/**
 * One ask in flight. Asks are also the nodes of the wait-for graph deadlock detection walks: an
 * ask waits on its target's handler (while that holds the mailbox), and a deferred ask on the
 * asks its forwarder made on its behalf (`dependents`).
 */
export class PendingAsk extends DeadlineEntry {
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  readonly promise: Promise<unknown>;
  settled = false;
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
  /** The resilient() attempt this ask serves: told when a handler takes it (see ServiceObserver). */
  observer: ServiceObserver | null = null;
  /** The target is essential: a crash or timeout answers from this fallback (with the message). */
  essential: { fallback: unknown; message: unknown } | null = null;

  constructor(
    readonly deadlines: DeadlineQueue<PendingAsk>,
    /** Path of the actor asked. */
    readonly path: string,
    /** The asking actor when the ask came from inside one, for deadlock detection. */
    readonly from: AskParty | null,
    /** The actor asked, for deadlock detection. */
    readonly to: AskParty,
  ) {
    super();
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** Aborts the handler's `ctx.signal` (made on first read) when this ask fails or is given up. */
  private controller: AbortController | null = null;
  /** Why it failed or was given up; NOT_FAILED while pending or once replied to. */
  private failure: unknown = NOT_FAILED;

  /**
   * The handler's view of this ask (`ctx.signal`): aborted once the caller no longer waits — its
   * deadline passed, it gave up, or the ask failed. Made on first read: most handlers never look.
   */
  signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.failure !== NOT_FAILED) this.controller.abort(this.failure);
    }
    return this.controller.signal;
  }

  /**
   * Nobody waits for this ask any more: its handler's signal aborts, and the asks made on its
   * behalf end in turn — no work goes on for a caller that left. When its deadline passed, theirs
   * has too (they were capped by it): they time out, counted against their targets like any
   * timeout; otherwise they are given up, which never counts.
   */
  private cancel(reason: unknown, timedOut: boolean): void {
    this.failure = reason;
    this.controller?.abort(reason);
    const dependents = this.dependents;
    if (dependents === null || dependents.length === 0) return;
    for (const dependent of [...dependents]) {
      if (timedOut) dependent.end(new TimeoutError(dependent.path, dependent.list?.timeoutMs ?? 0), true);
      else dependent.abandon(reason);
    }
  }

  /**
   * Its handler is told to stop (the actor is stopping or restarting): its signal aborts, so I/O
   * that honours it ends now rather than holding the stop for its whole budget. The ask itself
   * is not ended here; the stop ends it if the handler does not.
   */
  interrupt(reason: unknown): void {
    if (!this.settled && this.controller !== null && !this.controller.signal.aborted) this.controller.abort(reason);
  }

  /**
   * Did its handler fail only because its signal aborted (the caller left, the deadline passed,
   * a hedge lost, the actor is stopping)? Then the failure is no crash: nobody is waiting and
   * the handler did as asked — it stopped. The abort reason itself, or an AbortError.
   */
  abortedBy(error: unknown): boolean {
    const controller = this.controller;
    if (controller === null || !controller.signal.aborted) return false;
    return error === controller.signal.reason || (error instanceof Error && error.name === 'AbortError');
  }

  /** Its deadline passed (the queue unlinked it). */
  expire(timeoutMs: number): void {
    this.end(new TimeoutError(this.path, timeoutMs), true);
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
    return this.end(error, false);
  }

  /** Fails the ask; `timedOut` when its deadline passed (then the asks made for it time out too). */
  private end(error: unknown, timedOut: boolean): boolean {
    if (this.settled) return false;
    const breaker = this.breaker;
    const counts = countsAgainst(error, this.path, this.to.answersForForwarded);
    if (breaker !== null) {
      // The target timing out, crashing or drowning counts against it; a missing reply or a
      // shutdown says nothing about its health, nor does a timeout while the system mode held
      // the target back (else the mode would open the breakers that keep it raised), nor one of
      // an ask it deferred while asks made for it were still pending (a forwarder: the wait was
      // downstream, where it counts). On top of that, the breaker's `handle` sees what the
      // target did: for a crash, what its handler threw.
      if (counts && !(timedOut && (this.to.heldBack || this.waitedDownstream()))) {
        breaker.failed(error instanceof ActorStoppedError ? error.cause : error, this.admission);
      } else breaker.release(this.admission);
    }
    // An essential actor never fails its caller outright: its fallback answers instead.
    if (counts && this.essential !== null && this.answerFromFallback()) return true;
    this.finish();
    this.cancel(error, timedOut);
    this.reject(error);
    return true;
  }

  /** It was deferred and asks made for it are still pending: its forwarder did its part. */
  private waitedDownstream(): boolean {
    if (this.deferredBy === null || this.to.answersForForwarded) return false;
    const dependents = this.dependents;
    if (dependents !== null) for (const dependent of dependents) if (!dependent.settled) return true;
    return false;
  }

  /** Resolves with the essential target's fallback; false (the ask fails) if the fallback throws. */
  private answerFromFallback(): boolean {
    const { fallback, message } = this.essential!;
    let value: unknown;
    try {
      value = essentialAnswer(fallback, message);
    } catch {
      return false;
    }
    this.finish();
    this.cancel(new ActorStoppedError(this.path, 'answered from the fallback'), false);
    this.resolve(value);
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
    this.cancel(reason, false);
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

/** An essential actor's answer from its fallback: a value, or a function of the message. May throw. */
export function essentialAnswer(fallback: unknown, message: unknown): unknown {
  return typeof fallback === 'function' ? fallback(message) : fallback;
}

const NOT_FAILED: unique symbol = Symbol('genesis.notFailed');

const LATENCY_SAMPLE = 4; // a power of two
let latencySample = 0;

/**
 * Does `error`, ending an ask to the actor at `path`, count against it? Its own failures do:
 * every crash (whatever it threw), its timeouts, its full mailbox — and any error it answered
 * with through a deferred reply that is not the runtime's (its I/O failing, say). A runtime
 * error naming another actor is a downstream failure it relayed (it did its part), unless the
 * target answers for what it forwards (a pool's own breaker). An overload refusal never counts.
 */
function countsAgainst(error: unknown, path: string, answersForForwarded: boolean): boolean {
  if (!(error instanceof GenesisError)) return true;
  if ((error as { path?: unknown }).path !== path && !answersForForwarded) return false;
  return error instanceof TimeoutError || error instanceof MailboxFullError || (error instanceof ActorStoppedError && error.crashed);
}
