/**
 * Stop and restart bookkeeping of an actor, kept off the cell until the actor first stops,
 * crashes, defers a reply or runs an async handler: most actors never do, and each field here
 * would cost every actor 8 bytes.
 */
import type { ExitReason } from './actor.js';
import type { PendingAsk } from './ask.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { HandlerRun } from './handler-scope.js';

export class Lifecycle<Cell = unknown> {
  /** A deliberate stop (system.stop) asked for during this actor's own handler. */
  stopRequested: ExitReason | null = null;
  /** ctx.stop(): a normal exit of its own, reported to the supervisor once the handler ends. */
  exitRequested = false;
  restarts = 0;
  /** Consecutive restarts, for backoff growth. */
  backoffStep = 0;
  /** The restart plan this actor is part of, if any (a newer plan supersedes an older one). */
  plan: object | null = null;
  exitReason: ExitReason | null = null;
  lastCrash: { message: unknown; count: number } | null = null;
  /** The end of the current incarnation, once it has begun. */
  ending: Promise<void> | null = null;
  /** The time the ending incarnation has left. */
  budget: StopBudget | null = null;
  stopped: Promise<void> | null = null;
  stopWaiters: (() => void)[] | null = null;
  idleWaiters: (() => void)[] | null = null;
  /** Who waits for the current incarnation to start (a supervisor starting its children in order). */
  startWaiters: ((started: boolean) => void)[] | null = null;
  /** Ended because its parent is restarting: kept, with ref and mailbox, for the parent's next init. */
  held = false;
  /** The ask the current handler took over with deferReply (asks it makes are on its behalf). */
  handling: PendingAsk | null = null;
  /** The run of the async handler in flight, if it is tracked across its awaits. */
  run: HandlerRun | null = null;
  /** Actors this one watches. */
  watching: Set<Cell> | null = null;
  /** Actors that watch this one. */
  watchers: Set<Cell> | null = null;
  /** Topics this actor subscribed to. */
  topics: string[] | null = null;
  /** When the current incarnation started (clock ms), for the backoff reset. */
  startedAt = 0;
  /** Some incarnation completed its init (set once a lifecycle exists; see Incarnation.hasRun). */
  ran = false;
  /** The current incarnation handled a message to the end: not a hot restart loop (backoff). */
  served = false;
}

/**
 * The one deadline of a stop: the handler in flight, the children's stops and terminate share it
 * (a supervisor's `shutdownMs` bounds its whole subtree). A parent's tighter deadline lowers it;
 * waits in progress end when it passes. One clock timer, armed only while something can wait.
 */
export class StopBudget {
  deadline = Infinity;
  expired = false;
  private timer: TimerHandle | null = null;
  private waiters: (() => void)[] | null = null;

  constructor(private readonly clock: Clock) {}

  /** Lowers the deadline to `deadline` (never raises it). */
  tighten(deadline: number): void {
    if (deadline >= this.deadline || this.expired) return;
    this.deadline = deadline;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const ms = deadline - this.clock.now();
    if (ms <= 0) this.expire();
    else this.timer = this.clock.setTimeout(() => this.expire(), ms);
  }

  /** Resolves true once `promise` settles, false if the deadline passes first. */
  race(promise: PromiseLike<unknown>): Promise<boolean> {
    if (this.expired) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onExpire = () => resolve(false);
      (this.waiters ??= []).push(onExpire);
      const done = () => {
        const waiters = this.waiters;
        if (waiters !== null) {
          const i = waiters.indexOf(onExpire);
          if (i >= 0) waiters.splice(i, 1);
        }
        resolve(true);
      };
      promise.then(done, done);
    });
  }

  /** The budget is no longer needed (the incarnation has ended): later tightening does nothing. */
  dispose(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.waiters = null;
    this.deadline = -Infinity;
  }

  private expire(): void {
    this.timer = null;
    this.expired = true;
    const waiters = this.waiters;
    this.waiters = null;
    if (waiters !== null) for (const waiter of waiters) waiter();
  }
}
