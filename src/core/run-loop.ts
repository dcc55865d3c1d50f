/**
 * The run loop of an actor: the handling of what is in its mailbox — one message at a time, a
 * handler's result adopted (a promise holds the mailbox until it settles), async handlers
 * tracked across their awaits. It builds on delivery (delivery.ts); the incarnation lifecycle
 * (incarnation.ts) and the actor's own API (cell.ts) build on it — one object per actor.
 */
import { adopt, isThenable } from '../util/adopt.js';
import { ActorStoppedError, NoReplyError } from '../util/errors.js';
import { ASYNC_HANDLERS, type Context, type ExitReason, Handler, type Signal } from './actor.js';
import { PendingAsk } from './ask.js';
import { CONTROL, type Control, Delivery, EVENT, RESOLVED, SIGNAL, Status } from './delivery.js';
import type { ActorEvent } from './events.js';
import { type HandlerRun, runTracked } from './handler-scope.js';
import { LAST_LANE, SYSTEM_LANE } from './mailbox.js';
import { ServiceTime } from './service-time.js';

export abstract class RunLoop extends Delivery {
  // ---- Running -------------------------------------------------------------------------

  /**
   * Calls a handler that is an `async` function inside a tracked run, so that asks it makes
   * after an await are still attributed to this actor (sync handlers are called directly).
   */
  protected tracked(fn: (a: unknown, b: unknown, ctx: Context) => unknown, a: unknown, b: unknown): unknown {
    const run: HandlerRun = { owner: this };
    this.life.run = run;
    return runTracked(run, () => fn.call(this.behavior, a, b, this.ctx));
  }

  /** Called by the scheduler: handles up to `throughput` messages. */
  run(): number {
    // A stale run-queue entry (the actor restarted, or is held by an async handler) does nothing.
    if (this.status !== Status.Running || this.busy) return 0;
    try {
      return this.handleMessages();
    } catch (fault) {
      // Handlers' own throws are caught where they run; this is the runtime's code failing around
      // them (a logger, say). The actor must not be left wedged as the current actor: it crashes
      // like any other, and the scheduler goes on.
      this.system.current = null;
      this.busy = false;
      try {
        if (this.status === Status.Running) this.crash(fault, undefined, undefined, 'runtime');
      } catch {
        // nothing more can be done for it here; the others keep running
      }
      return 1;
    }
  }

  private handleMessages(): number {
    const system = this.system;
    const limit = this.config.throughput;
    system.current = this;
    let handled = 0;
    while (true) {
      if (this.isEmpty) {
        this.scheduled = false;
        break;
      }
      if (handled >= limit) {
        system.scheduler.enqueue(this); // fairness: back of the queue, still scheduled
        break;
      }
      // The system mode may hold back what a non-essential actor takes (one field test normally).
      if (system.maxLane < LAST_LANE && this.nextLane > system.maxLane && !this.unrestricted) {
        this.scheduled = false; // parked: the messages wait, in order, until the mode allows
        system.parked(this);
        break;
      }
      const message = this.take();
      const meta = this.meta;
      if (meta === undefined) handled += this.handleTell(message, this.lane);
      else {
        handled++;
        if (meta instanceof PendingAsk) this.handleAsk(message, meta);
        else if (meta === EVENT) this.handleEvent(message as ActorEvent);
        else if (meta === CONTROL) this.handleControl(message as Control);
        else this.handleSignal(message as Signal);
      }
      // An async handler holds the mailbox; a stop or crash ends the turn.
      if (this.busy || this.status !== Status.Running) break;
    }
    system.current = null;
    return handled;
  }

  protected handleTell(message: unknown, lane: number): number {
    const behavior = this.behavior;
    let result: unknown;
    if (behavior.receiveBatch === undefined) {
      try {
        result =
          (behavior[ASYNC_HANDLERS] & Handler.Receive) === 0
            ? behavior.receive!(this.state, message, this.ctx)
            : this.tracked(behavior.receive as never, this.state, message);
      } catch (error) {
        this.endRun();
        this.crash(error, message, undefined, 'receive');
        return 1;
      }
      this.settle(result, message, undefined, 'receive');
      return 1;
    }
    // Batch the consecutive tells of this priority, up to batchSize.
    const batch = [message];
    const max = this.config.batchSize;
    if (lane !== SYSTEM_LANE) while (batch.length < max && this.nextIsTellInLane(lane)) batch.push(this.take());
    try {
      result =
        (behavior[ASYNC_HANDLERS] & Handler.ReceiveBatch) === 0
          ? behavior.receiveBatch(this.state, batch, this.ctx)
          : this.tracked(behavior.receiveBatch as never, this.state, batch);
    } catch (error) {
      this.endRun();
      this.crash(error, batch, undefined, 'receiveBatch');
      return batch.length;
    }
    this.settle(result, batch, undefined, 'receiveBatch');
    return batch.length;
  }

  protected handleAsk(message: unknown, ask: PendingAsk): void {
    // Nobody waits for it any more (the caller gave up, or its deadline passed while it was
    // queued): not started — no work for a caller that left — and not lost either.
    if (ask.settled) {
      this.system.deadLetters.record(this.path, message, 'expired');
      return;
    }
    this.currentAsk = ask;
    const service = (this.service ??= new ServiceTime());
    service.startedAt = service.sampleNext() ? this.system.clock.now() : -1;
    if (ask.observer !== null) ask.observer.serviceStarted(service.startedAt >= 0 ? service.startedAt : this.system.clock.now());
    const behavior = this.behavior;
    let result: unknown;
    try {
      if (behavior.receive !== undefined) {
        result =
          (behavior[ASYNC_HANDLERS] & Handler.Receive) === 0
            ? behavior.receive(this.state, message, this.ctx)
            : this.tracked(behavior.receive as never, this.state, message);
      } else {
        result =
          (behavior[ASYNC_HANDLERS] & Handler.ReceiveBatch) === 0
            ? behavior.receiveBatch!(this.state, [message], this.ctx)
            : this.tracked(behavior.receiveBatch as never, this.state, [message]);
      }
    } catch (error) {
      if (ask.abortedBy(error)) {
        this.endAborted(ask);
        this.afterHandler();
        return;
      }
      this.endRun();
      this.crash(error, message, ask, 'receive');
      return;
    }
    this.settle(result, message, ask, 'receive');
  }

  /**
   * The handler of `ask` failed only because the ask's signal aborted — its caller left, its
   * deadline passed, a hedge lost, or this actor is stopping (see PendingAsk.abortedBy). That is
   * the handler doing as told, not a crash: no restart, no dead letter; the ask ends if it has
   * not (then with ActorStoppedError: the actor was stopping).
   */
  private endAborted(ask: PendingAsk): void {
    if (this.currentAsk === ask) this.currentAsk = null;
    if (!ask.settled) ask.fail(new ActorStoppedError(this.path, `actor ${this.path} stopped before replying`));
    this.finishHandler(ask);
  }

  protected handleEvent(event: ActorEvent): void {
    const behavior = this.behavior;
    let result: unknown;
    try {
      result =
        (behavior[ASYNC_HANDLERS] & Handler.OnEvent) === 0 ? behavior.onEvent!(this.state, event, this.ctx) : this.tracked(behavior.onEvent as never, this.state, event);
    } catch (error) {
      this.endRun();
      this.crash(error, event, EVENT, 'onEvent');
      return;
    }
    this.settle(result, event, undefined, 'onEvent');
  }

  protected handleControl(control: Control): void {
    try {
      control.run();
      control.done();
    } catch (error) {
      control.done(error);
    }
  }

  protected handleSignal(signal: Signal): void {
    const behavior = this.behavior;
    const onSignal = behavior.onSignal;
    if (onSignal === undefined) return;
    let result: unknown;
    try {
      result = (behavior[ASYNC_HANDLERS] & Handler.OnSignal) === 0 ? onSignal(this.state, signal, this.ctx) : this.tracked(onSignal as never, this.state, signal);
    } catch (error) {
      this.endRun();
      this.crash(error, signal, SIGNAL, 'onSignal');
      return;
    }
    this.settle(result, signal, undefined, 'onSignal');
  }

  /** Applies a handler's result: the new state now, or once its promise settles. */
  protected settle(result: unknown, message: unknown, ask: PendingAsk | undefined, where: string): void {
    if (result !== undefined) {
      // The hot path: a plain new state allocates nothing (no callbacks for adopt).
      if (isThenable(result)) {
        this.settleLater(result, message, ask, where);
        return;
      }
      this.state = result;
    }
    this.finishHandler(ask);
    this.afterHandler();
  }

  /** A handler returned a thenable: the mailbox is held until it settles. */
  private settleLater(result: unknown, message: unknown, ask: PendingAsk | undefined, where: string): void {
    const epoch = this.epoch;
    this.busy = true;
    // An async ask handler is always timed: its time is what a queue behind it waits for.
    if (ask !== undefined && this.service !== null && this.service.startedAt < 0) this.service.startedAt = this.system.clock.now();
    adopt(
      result,
      (state) => {
        if (epoch !== this.epoch) return; // abandoned: the actor was killed meanwhile
        this.busy = false;
        if (state !== undefined) this.state = state;
        this.finishHandler(ask);
        if (this.status === Status.Running) {
          if (!this.afterHandler()) this.resume();
        } else this.notifyIdle();
      },
      (error) => {
        if (epoch !== this.epoch) return;
        this.busy = false;
        if (ask?.abortedBy(error)) {
          this.endAborted(ask);
          if (this.status === Status.Running) {
            if (!this.afterHandler()) this.resume();
          } else this.notifyIdle();
          return;
        }
        this.endRun();
        this.crash(error, message, ask ?? (where === 'onEvent' ? EVENT : undefined), where);
      },
    );
  }

  protected finishHandler(ask: PendingAsk | undefined): void {
    this.waitingOn = null; // asks still outstanding no longer block this actor
    this.endRun();
    const life = this.lifecycle;
    if (life !== null) life.served = true; // (only actors that crashed before have one: see Lifecycle)
    if (this.hooks !== null) this.hooks.afterHandler();
    const service = this.service;
    if (ask !== undefined && service !== null && service.startedAt >= 0) service.record(this.system.clock.now() - service.startedAt);
    if (ask !== undefined && this.currentAsk === ask) {
      this.currentAsk = null;
      ask.fail(new NoReplyError(this.path));
    }
  }

  /** The handler has ended: it no longer works for a deferred ask, nor owns a tracked run. */
  protected endRun(): void {
    const life = this.lifecycle;
    if (life !== null) {
      life.handling = null;
      life.run = null;
    }
  }

  /** Acts on a stop asked for during the handler; true if the actor is leaving. */
  protected afterHandler(): boolean {
    const life = this.lifecycle;
    if (life === null) return false;
    if (life.stopRequested !== null) {
      const reason = life.stopRequested;
      life.stopRequested = null;
      void this.stopForGood(reason);
      return true;
    }
    if (life.exitRequested) {
      life.exitRequested = false;
      this.system.childExited(this, 'normal');
      return true;
    }
    return false;
  }

  /** After an async step: run again if messages wait, else go idle. */
  protected resume(): void {
    if (this.isEmpty) this.scheduled = false;
    else this.system.scheduler.enqueue(this);
  }

  /** Resolves once no handler is in flight. */
  protected idle(): Promise<void> {
    if (!this.busy) return RESOLVED;
    const life = this.life;
    return new Promise((resolve) => (life.idleWaiters ??= []).push(resolve));
  }

  protected notifyIdle(): void {
    const life = this.lifecycle;
    if (life === null) return;
    const waiters = life.idleWaiters;
    life.idleWaiters = null;
    if (waiters !== null) for (const waiter of waiters) waiter();
  }

  /** A handler (or init) threw or rejected: see Incarnation. */
  abstract crash(error: unknown, message: unknown, meta: unknown, where: string): void;

  /** Ends the actor for good: see Incarnation. */
  abstract stopForGood(reason: ExitReason, failed?: boolean, deadline?: number): Promise<void>;
}
