/**
 * The incarnations of an actor: init (sync or async), then running until the incarnation ends —
 * by a crash (the supervisor decides), a restart of its own or of its parent (children held for
 * the next init), or a stop for good. Ending has one budget (`shutdownMs`, or less when a
 * parent's budget is tighter): the handler in flight (killed when the budget runs out), the
 * children in reverse start order, then terminate — only for an incarnation whose init completed.
 */
import { adopt } from '../util/adopt.js';
import { ActorStoppedError } from '../util/errors.js';
import { loggableError } from '../util/logger.js';
import { ASYNC_HANDLERS, type ExitReason, Handler } from './actor.js';
import { PendingAsk } from './ask.js';
import type { ActorContext } from './context.js';
import { StopBudget } from './lifecycle.js';
import { RESOLVED, Status, UNSTARTED } from './delivery.js';
import { RunLoop } from './run-loop.js';
import type { ChildSpec } from './spec.js';

const initDone = ([state]: [unknown, void]): unknown => state;

export abstract class Incarnation extends RunLoop {
  /**
   * Runs init for a new incarnation: a sync init leaves the actor running at once, an async one
   * holds the mailbox until it settles. A throw is a crash, reported to the supervisor.
   */
  start(): void {
    const system = this.system;
    const behavior = this.behavior;
    const previous = system.current;
    const epoch = this.epoch;
    // Copies of the state on other nodes are fetched while init runs; the actor starts once both are done.
    const preparing = this.hooks?.beforeInit();
    system.current = this;
    let result: unknown;
    try {
      if (behavior.init === undefined) result = undefined;
      else if ((behavior[ASYNC_HANDLERS] & Handler.Init) === 0) result = behavior.init(this.args, this.ctx);
      else result = this.tracked(behavior.init as never, this.args, this.ctx);
    } catch (error) {
      system.current = previous;
      this.crash(error, undefined, undefined, 'init');
      return;
    }
    system.current = previous;
    // Both settle before the actor runs (Promise.all: an init failing meanwhile is never unhandled).
    if (preparing !== undefined) result = Promise.all([result, preparing]).then(initDone);
    const async = adopt(
      result,
      (state) => {
        if (epoch !== this.epoch) return; // abandoned (killed while init hung)
        this.busy = false;
        this.endRun();
        if (this.status !== Status.Starting) return this.notifyIdle();
        this.state = state;
        this.initialized();
      },
      (error) => {
        if (epoch !== this.epoch) return;
        this.busy = false;
        this.endRun();
        this.crash(error, undefined, undefined, 'init');
      },
    );
    if (async) {
      this.busy = true;
      return;
    }
    this.endRun();
    if (this.status !== Status.Starting) return; // it crashed or was stopped during its own init
    this.state = result;
    this.initialized();
  }

  protected initialized(): void {
    this.status = Status.Running;
    if (this.lifecycle !== null) this.lifecycle.ran = true; // a first incarnation is known by its status
    this.hooks?.afterInit();
    // Children of the previous incarnation that this init did not take up again leave now.
    if (this.children !== null) this.releaseHeldChildren();
    this.settleStart(true);
    if (!this.afterHandler()) this.resume();
  }

  /**
   * Resolves true once the current incarnation is running, false if the actor stops for good,
   * is held by its parent's restart, or its parent begins to end, first.
   */
  whenStarted(): Promise<boolean> {
    if (this.status === Status.Running) return Promise.resolve(true);
    if (this.status >= Status.Stopping || this.held) return Promise.resolve(false);
    return new Promise((resolve) => (this.life.startWaiters ??= []).push(resolve));
  }

  protected settleStart(started: boolean): void {
    const life = this.lifecycle;
    const waiters = life?.startWaiters;
    if (waiters == null) return;
    life!.startWaiters = null;
    for (const resolve of waiters) resolve(started);
  }

  // ---- Failure ---------------------------------------------------------------------------

  /**
   * A handler (or init) threw or rejected. The message goes to dead letters with the error — or,
   * under `maxMessageCrashes` > 1, back to the front of its lane for the next incarnation — its
   * asker gets ActorStoppedError (crashed, cause: the error), and the supervisor decides.
   */
  crash(error: unknown, message: unknown, meta: unknown, where: string): void {
    // An escalation from below is not this actor's handler failing: a handler in flight keeps
    // its ask and gets the stop budget to finish (ending the incarnation waits for it).
    if (where !== 'supervision') {
      this.currentAsk = null;
      this.waitingOn = null;
    }
    const ask = meta instanceof PendingAsk ? meta : undefined;
    // A snapshot asked for during the failed handler will not come.
    this.hooks?.handlerAbandoned();
    if (this.status !== Status.Running && this.status !== Status.Starting) {
      // A handler that settled while the actor was already being stopped: nothing to supervise.
      this.log.error({ err: loggableError(error), in: where }, `actor ${this.path} failed in ${where} while stopping`);
      if (where !== 'init' && where !== 'supervision') this.system.deadLetters.record(this.path, message, 'crashed', error);
      ask?.fail(crashedError(this.path, error));
      this.notifyIdle();
      return;
    }
    if (this.status === Status.Running) this.life.ran = true;
    this.status = Status.Restarting; // stops message handling until the supervisor has decided
    if (where !== 'init' && where !== 'supervision' && !this.redeliver(message, meta, where)) {
      const messages = where === 'receiveBatch' ? (message as unknown[]) : [message];
      for (const m of messages) this.system.deadLetters.record(this.path, m, 'crashed', error);
      ask?.fail(crashedError(this.path, error));
    }
    // A deliberate stop asked for during the handler stands: no restart.
    const stop = this.lifecycle?.stopRequested;
    if (stop) {
      this.lifecycle!.stopRequested = null;
      void this.stopForGood(stop);
      return;
    }
    this.system.childExited(this, { error }, where);
  }

  /** Puts a crashing message back for another try while it has crashed fewer than maxMessageCrashes times. */
  protected redeliver(message: unknown, meta: unknown, where: string): boolean {
    const max = this.spec.maxMessageCrashes;
    if (max <= 1 || where === 'receiveBatch') return false;
    const life = this.life;
    const last = life.lastCrash;
    const count = last !== null && last.message === message ? last.count + 1 : 1;
    if (count >= max) {
      life.lastCrash = null;
      return false;
    }
    life.lastCrash = { message, count };
    this.pushFront(this.lane, message, meta);
    return true;
  }

  // ---- Ending an incarnation, restarting, stopping -------------------------------------

  /**
   * Ends the current incarnation within its stop budget (`shutdownMs`, or `deadline` when that
   * is sooner): waits for the handler in flight, ends the children in reverse start order — held
   * for this actor's next init when `forRestart`, else stopped for good — and runs terminate if
   * the incarnation had started. Idempotent; a later call can only tighten the deadline.
   */
  endIncarnation(reason: ExitReason, forRestart: boolean, deadline = Infinity): Promise<void> {
    const life = this.life;
    if (life.ending !== null) {
      this.tighten(deadline);
      return life.ending;
    }
    life.budget = new StopBudget(this.system.clock);
    this.tighten(Math.min(deadline, this.system.clock.now() + this.spec.shutdownMs));
    return (life.ending = this.runEnd(reason, forRestart, life.budget));
  }

  /** Lowers the deadline of the ending incarnation, and of its children's stops. */
  protected tighten(deadline: number): void {
    const budget = this.lifecycle?.budget;
    if (budget == null || deadline >= budget.deadline) return;
    budget.tighten(deadline);
    if (this.children !== null) for (const child of this.children.values()) child.tighten(deadline);
  }

  protected async runEnd(reason: ExitReason, forRestart: boolean, budget: StopBudget): Promise<void> {
    this.supervision?.cancelPending(); // restarts of children that were waiting for a backoff
    // An init or a restart of this actor's waiting for one of its children to start gives up.
    if (this.children !== null) for (const child of this.children.values()) child.settleStart(false);
    // Never run terminate (or the children's) in the stack of whoever asked for the stop.
    await null;
    if (this.busy) {
      // OTP's exit signal: the handler in flight is told to stop (its ctx.signal aborts), so a
      // stalled call that honours it ends now instead of holding the stop for the whole budget.
      const why = reason === 'normal' || reason === 'shutdown' ? 'is stopping' : 'is restarting';
      (this.currentAsk ?? this.lifecycle?.handling)?.interrupt(new ActorStoppedError(this.path, `actor ${this.path} ${why}`));
      if (!(await budget.race(this.idle()))) this.kill();
    }
    const children = this.children;
    if (children !== null && children.size > 0) {
      for (const child of [...children.values()].reverse()) {
        await (forRestart ? child.hold(budget.deadline) : child.requestStop('shutdown', budget.deadline));
      }
    }
    // A reply this incarnation deferred belongs to its ask, not to the incarnation: across a
    // restart it may still come (the work for it goes on: failing the caller now would make that
    // work an orphan), else the ask ends by its deadline. A final stop fails them (OTP: the
    // caller sees the server die).
    if (!forRestart) this.failDeferred(`actor ${this.path} ${reason === 'normal' || reason === 'shutdown' ? 'stopped' : 'crashed'} before replying`);
    await this.terminate(reason, budget);
    budget.dispose();
  }

  /** The handler in flight outlived the stop budget: abandon it (its result, if any, is ignored). */
  protected kill(): void {
    const shutdownMs = this.spec.shutdownMs;
    this.log.warn({ shutdownMs }, `${this.path} did not finish its handler within its stop budget: killed`);
    this.epoch++; // its handler's result, if it ever comes, is ignored, and its ctx goes dead
    this.ctx = this.newContext(this.epoch); // for terminate and what follows
    this.busy = false;
    this.waitingOn = null;
    this.endRun();
    this.hooks?.handlerAbandoned();
    this.currentAsk?.fail(new ActorStoppedError(this.path, `actor ${this.path} was killed before replying`));
    this.currentAsk = null;
  }

  /** Runs terminate for an incarnation that started, within what is left of the budget. */
  protected async terminate(reason: ExitReason, budget: StopBudget): Promise<void> {
    const terminate = this.behavior.terminate;
    if (terminate === undefined || this.state === UNSTARTED) return;
    if (budget.expired) {
      this.log.warn(`terminate of ${this.path} skipped: its stop budget was used up`);
      return;
    }
    let result: unknown;
    try {
      result = terminate.call(this.behavior, this.state, reason, this.ctx);
    } catch (error) {
      this.log.error({ err: loggableError(error) }, `terminate of ${this.path} failed`);
      return;
    }
    let failed: (error: unknown) => void = () => {};
    const settled = new Promise<void>((resolve) => {
      failed = (error) => {
        this.log.error({ err: loggableError(error) }, `terminate of ${this.path} failed`);
        resolve();
      };
      if (!adopt(result, () => resolve(), failed)) resolve();
    });
    if (!(await budget.race(settled))) this.log.warn(`terminate of ${this.path} did not finish within its stop budget: killed`);
  }

  // ---- What a supervisor may do: ask, never write (OTP's supervisor acts through signals) ----

  /** Joins restart `plan`: halted (no more messages handled) until the plan restarts it. */
  joinRestart(plan: object): void {
    this.life.plan = plan;
    if (this.status === Status.Running || this.status === Status.Starting) this.status = Status.Restarting;
  }

  /** Still waiting for restart `plan` (not stopped meanwhile, not taken over by a newer plan). */
  awaitsRestart(plan: object): boolean {
    return this.lifecycle?.plan === plan && this.status === Status.Restarting;
  }

  /**
   * The consecutive-restart count for backoff growth, counting this restart: it starts over once
   * the incarnation ending now has run for `resetAfterMs`.
   */
  /** Some incarnation of it has run (init completed): a crash loop, not a failure to start. */
  get hasRun(): boolean {
    return this.status === Status.Running || (this.lifecycle?.ran ?? false);
  }

  nextBackoffStep(now: number, resetAfterMs: number): number {
    const life = this.life;
    // Stable for resetAfterMs, or it handled a message to the end since its last restart: the
    // crash is no hot restart loop (an actor failing one message in three is restarted at once,
    // not starved by a backoff grown on crashes that had healthy messages between them).
    if (now - life.startedAt >= resetAfterMs || life.served) life.backoffStep = 0; // startedAt 0: the first incarnation
    return life.backoffStep++;
  }

  /** Starts a new incarnation after the old one has ended (the supervisor's restart). */
  reinit(): void {
    const life = this.life;
    life.plan = null;
    // A stop asked for while the old incarnation ended stands: no new incarnation.
    if (life.stopRequested !== null) {
      const reason = life.stopRequested;
      life.stopRequested = null;
      void this.stopForGood(reason);
      return;
    }
    life.exitRequested = false; // a ctx.stop() of the ended incarnation is not the new one's
    life.ending = null;
    life.budget = null;
    life.held = false;
    life.restarts++;
    life.served = false;
    this.epoch++;
    this.ctx = this.newContext(this.epoch);
    life.startedAt = this.system.clock.now();
    this.status = Status.Starting;
    this.state = UNSTARTED;
    this.supervision = null; // a new incarnation starts with a fresh restart history
    this.scheduled = true; // resume() decides once init is done
    this.log.info({ restarts: life.restarts }, `restarted ${this.path}`);
    this.start();
  }

  /**
   * The parent is restarting: this incarnation ends (children held in turn), and the actor waits
   * — ref, path and mailbox kept, messages queued meanwhile — for the parent's next init to
   * adopt it again (`adopt`); one the new init does not adopt is stopped then.
   */
  hold(deadline: number): Promise<void> {
    if (this.status >= Status.Stopping) {
      this.tighten(deadline);
      return this.lifecycle?.stopped ?? RESOLVED;
    }
    const life = this.life;
    life.held = true;
    life.plan = null; // a restart planned by the parent's ended incarnation must not run
    if (this.status === Status.Running || this.status === Status.Starting) this.status = Status.Restarting;
    this.settleStart(false);
    return this.endIncarnation('shutdown', true, deadline);
  }

  /** Taken up again by its restarted parent's init, with that init's args and options. */
  adoptAgain(args: unknown, spec: ChildSpec): void {
    this.args = args;
    this.spec = spec;
    this.reinit();
  }

  protected releaseHeldChildren(): void {
    for (const child of [...this.children!.values()]) {
      if (child.held) void child.stopForGood('shutdown');
    }
  }

  /** Stops the actor: at once when idle, else after the handler in flight has finished. */
  requestStop(reason: ExitReason, deadline = Infinity): Promise<void> {
    if (this.status >= Status.Stopping) {
      this.tighten(deadline);
      return this.lifecycle?.stopped ?? RESOLVED;
    }
    if (this.system.current === this && (this.status === Status.Running || this.status === Status.Starting)) {
      // Inside its own synchronous handler (or init): leave once it returns.
      const life = this.life;
      life.stopRequested ??= reason;
      return new Promise((resolve) => (life.stopWaiters ??= []).push(resolve));
    }
    return this.stopForGood(reason, false, deadline);
  }

  /** Ends the actor for good: no restart. `failed` keeps it visible in the tree as failed. */
  stopForGood(reason: ExitReason, failed = false, deadline = Infinity): Promise<void> {
    if (this.status >= Status.Stopping) {
      this.tighten(deadline);
      return this.lifecycle?.stopped ?? RESOLVED;
    }
    this.status = Status.Stopping;
    const life = this.life;
    life.stopRequested = null;
    life.held = false;
    life.exitReason = reason;
    this.settleStart(false);
    this.drainToDeadLetters();
    const finish = () => this.finishStop(reason, failed);
    // An incarnation already ended (held for a parent's restart, or waiting for its own) may
    // still have children held for it: they stop too.
    const ended = this.endIncarnation(reason, false, deadline).then(() => this.stopChildren(deadline));
    return (life.stopped = ended.then(finish, finish));
  }

  protected async stopChildren(deadline: number): Promise<void> {
    const children = this.children;
    if (children === null || children.size === 0) return;
    const until = Math.min(deadline, this.system.clock.now() + this.spec.shutdownMs);
    for (const child of [...children.values()].reverse()) await child.requestStop('shutdown', until);
  }

  protected finishStop(reason: ExitReason, failed: boolean): void {
    this.status = failed ? Status.Failed : Status.Stopped;
    this.scheduled = true; // never enqueue a stopped actor again
    this.drainToDeadLetters(); // anything that slipped in while terminate ran
    this.failDeferred(`actor ${this.path} stopped before replying`);
    const life = this.life;
    life.budget?.dispose();
    this.hooks?.stopped();
    this.breaker?.stop();
    this.system.actorStopped(this, failed, reason);
    this.stoppedForGood(reason);
    if (life.stopWaiters !== null) for (const resolve of life.stopWaiters) resolve();
    life.stopWaiters = null;
  }

  protected failDeferred(why: string): void {
    const deferred = this.deferred;
    this.deferred = null;
    if (deferred !== null) for (const ask of deferred) ask.fail(new ActorStoppedError(this.path, why));
  }

  protected drainToDeadLetters(): void {
    while (!this.isEmpty) {
      const message = this.take();
      this.undeliverable(message, this.meta, 'stopped');
    }
  }

  /** A new context for incarnation `epoch` (the old one goes dead). */
  protected abstract newContext(epoch: number): ActorContext;

  /** The actor has stopped for good: its watchers and subscriptions are told (see ActorCell). */
  protected abstract stoppedForGood(reason: ExitReason): void;
}

/** What the asker of a crashed handler gets: crashed, with what the handler threw as `cause`. */
function crashedError(path: string, error: unknown): ActorStoppedError {
  return new ActorStoppedError(path, `actor ${path} crashed handling the ask`, { cause: error, crashed: true });
}
