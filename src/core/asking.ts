/**
 * Asks as the system makes them: option checks, the asker found (even after an await), deadlock
 * detection, breaker admission, the deadline, and the caller's signal. Never throws: every
 * failure is a rejection.
 */
import { attemptServed } from '../resilience/attempt.js';
import { Admission, Breaker, type ResolvedBreakerOptions } from '../resilience/breaker.js';
import type { Clock } from '../util/clock.js';
import { CircuitOpenError, DeadlockError, OverloadedError, SystemStoppedError, TimeoutError } from '../util/errors.js';
import { DeadlineQueue } from '../util/deadline-queue.js';
import { essentialAnswer, PendingAsk } from './ask.js';
import type { ActorCell } from './cell.js';
import { trackedRun } from './handler-scope.js';
import { DEFAULT_PRIORITY } from './mailbox.js';
import { type AskOptions, askOptionsRead, readAskOptions } from './ref.js';

/** What asking needs of the system. */
export interface AskHost {
  readonly name: string;
  /** True once the system has shut down: asks are refused. */
  readonly isStopped: boolean;
  readonly clock: Clock;
  readonly random: () => number;
  /** The actor whose handler runs synchronously now, if any. */
  readonly current: ActorCell | null;
  /** A breaker changed state (published as `breaker.<to>`, and a health signal). */
  breakerChanged(cell: ActorCell, from: string, to: string): void;
  /** An actor refused an ask as overloaded (a health signal). */
  refused(cell: ActorCell): void;
}

export class Asks {
  readonly deadlines: DeadlineQueue<PendingAsk>;
  /** Asks made since start (answered, refused or failed): one increment per ask, for metrics. */
  made = 0;

  constructor(
    private readonly host: AskHost,
    /** Default ask timeout (ms). */
    readonly timeoutMs: number,
  ) {
    this.deadlines = new DeadlineQueue<PendingAsk>(host.clock);
  }

  /**
   * `from` is the asking actor when the ask comes from inside one (ref.ask passes the
   * actor whose handler is running, if any); `cause` the deferred ask it is made on behalf of,
   * for a forwarder's asks made outside its handler. Never throws: every failure is a rejection.
   */
  ask(target: ActorCell, message: unknown, options: AskOptions | undefined, from: ActorCell | null, cause: PendingAsk | null = null): Promise<unknown> {
    try {
      return this.askOrThrow(target, message, options, from, cause);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private askOrThrow(target: ActorCell, message: unknown, options: AskOptions | undefined, from: ActorCell | null, cause: PendingAsk | null): Promise<unknown> {
    if (this.host.isStopped) throw new SystemStoppedError(this.host.name);
    this.made++;
    let timeoutMs = this.timeoutMs;
    let priority = DEFAULT_PRIORITY;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      readAskOptions(options, timeoutMs);
      ({ timeoutMs, priority, signal } = askOptionsRead);
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    // After an await inside an async handler there is no synchronous caller: its tracked run says
    // which actor is asking.
    let holding = false;
    if (from === null) {
      const run = trackedRun();
      if (run !== undefined && (run.owner as ActorCell).ownsRun(run)) {
        from = run.owner as ActorCell;
        holding = true;
      }
    } else holding = from === this.host.current || (from.busy && from.asksFromItsHandler(trackedRun()));
    // Only an asker inside its handler holds its mailbox; asks outside it (a timer, a forwarder's
    // later attempt) block nothing of the asker's, though they may work for a deferred ask.
    if (from !== null && holding) cause ??= from.askInHand;
    // An ask made for another ask need not outlive it: nobody would be there for the answer.
    if (cause !== null && !cause.settled && cause.list !== null) {
      const left = cause.deadline - this.host.clock.now();
      if (left <= 0) throw new TimeoutError(target.path, 0);
      if (left < timeoutMs) timeoutMs = left;
    }
    if (from !== null && (holding || cause !== null)) {
      const cycle = findCycle(target, from, holding, cause);
      if (cycle !== null) throw new DeadlockError(target.path, cycle);
    }
    // Admission control: an ask that would wait in the queue past its deadline is refused now,
    // not timed out later (queueing is not failure; the caller can degrade at once). Priority 0
    // is for work that must be done (booking a fill already executed): never refused here.
    if (target.size !== 0 && priority !== 0 && target.wouldMissDeadline(priority, timeoutMs)) {
      this.host.refused(target);
      throw new OverloadedError(target.path, `${target.size} messages queued would outlast the ask's ${Math.round(timeoutMs)} ms deadline`);
    }
    let breaker: Breaker | null = null;
    let admission: Admission = Admission.pass;
    const breakerOptions = target.spec.breaker;
    if (breakerOptions !== false) {
      breaker = target.breaker ??= this.createBreaker(target, breakerOptions);
      admission = breaker.acquire();
      if (admission === Admission.reject) throw new CircuitOpenError(target.path);
      if (admission === Admission.fallback) {
        const fallback = target.spec.fallback;
        return Promise.resolve(essentialAnswer(fallback, message));
      }
    }
    const ask = new PendingAsk(this.deadlines, target.path, from, target);
    ask.breaker = breaker;
    ask.admission = admission;
    if (target.spec.essential && target.spec.fallback !== undefined) ask.essential = { fallback: target.spec.fallback, message };
    this.deadlines.add(ask, timeoutMs);
    if (holding) (ask.waitList = from!.waitingOn ??= []).push(ask);
    if (cause !== null && !cause.settled) {
      ask.cause = cause;
      (cause.dependents ??= []).push(ask);
    }
    // A resilient() attempt this ask serves, directly or through a forwarder that deferred it
    // (a pool): told when a handler takes it, so its 'auto' timeout counts service, not queueing.
    const observer = attemptServed(signal) ?? (cause !== null && cause.deferredBy !== null ? cause.observer : null);
    if (observer !== null) {
      ask.observer = observer;
      observer.serviceQueued();
    }
    if (signal !== undefined) {
      // The caller giving up ends the ask without counting against the target.
      const onAbort = () => ask.abandon(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      ask.onSettle = () => signal.removeEventListener('abort', onAbort);
    }
    target.deliver(priority, message, ask);
    return ask.promise;
  }

  /** The breaker of an actor, on its first ask; its transitions go to the bus as `breaker.<state>`. */
  private createBreaker(cell: ActorCell, options: ResolvedBreakerOptions): Breaker {
    return new Breaker(options, {
      clock: this.host.clock,
      path: cell.path,
      random: this.host.random,
      onTransition: (from, to) => {
        cell.log.info({ from, to }, `breaker of ${cell.path}: ${from} → ${to}`);
        if (!this.host.isStopped) this.host.breakerChanged(cell, from, to);
      },
    });
  }
}

/**
 * Would a new ask from `from` to `target` close a cycle of asks waiting on each other? The new
 * ask waits on whatever `target` is waiting on, if `target` holds its mailbox (a handler in
 * flight). A pending ask waits on its target in the same way — or, once its target deferred it,
 * on the asks made on its behalf. Waiting on `from` itself (when the new ask is made inside
 * `from`'s handler) or on `cause` (the deferred ask it works for) is a deadlock.
 * Returns the actors on the cycle by path, or null.
 */
function findCycle(target: ActorCell, from: ActorCell, holding: boolean, cause: PendingAsk | null): string[] | null {
  if (target === from && holding) return [from.path, from.path];
  // A target free to take the ask blocks nothing: most asks end here, allocation-free.
  if (!target.inHandler) return null;
  const trail: string[] = [from.path];
  const seen = new Set<object>();
  const visitCell = (cell: ActorCell): boolean => {
    trail.push(cell.path);
    if (cell === from && holding) return true;
    if (!seen.has(cell) && cell.inHandler) {
      seen.add(cell);
      const waiting = cell.waitingOn;
      if (waiting !== null) for (const ask of waiting) if (visitAsk(ask)) return true;
    }
    trail.pop();
    return false;
  };
  const visitAsk = (ask: PendingAsk): boolean => {
    if (ask === cause) {
      trail.push(from.path); // the deferred ask `from` works for: waiting on it is waiting on `from`
      return true;
    }
    if (ask.settled || seen.has(ask)) return false;
    seen.add(ask);
    if (ask.deferredBy === null) return visitCell(ask.to as ActorCell);
    const dependents = ask.dependents;
    if (dependents !== null) for (const next of dependents) if (visitAsk(next)) return true;
    return false;
  };
  return visitCell(target) ? trail : null;
}
