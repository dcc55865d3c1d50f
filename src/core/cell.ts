/**
 * ActorCell: the runtime side of one actor — its state, mailbox, lifecycle and children. Its
 * handlers get a `ctx` (ActorContext) per incarnation that forwards here.
 *
 * Lifecycle: starting (init in flight) → running → [restarting → starting → running]* →
 * stopping → stopped (or failed, when an escalation reached the root). The cell — and so its
 * ref, path and mailbox — survives restarts, its own and its parent's; each run from init to
 * the end of terminate is one incarnation. Ending an incarnation has one budget (`shutdownMs`,
 * or less when a parent's budget is tighter): it waits for the handler in flight (killed when
 * the budget runs out), ends the children in reverse start order, then runs terminate — only
 * for an incarnation whose init completed.
 */
import type { Logger } from 'pino';
import {
  ASYNC_HANDLERS,
  type AskOptions,
  type Behavior,
  type Context,
  type DeferredReply,
  type ExitReason,
  Handler,
  type Signal,
  type SpawnOptions,
  type TellOptions,
} from './actor.js';
import { adopt } from '../util/adopt.js';
import { type AskParty, PendingAsk } from './ask.js';
import type { DeadLetterReason } from './dead-letters.js';
import { ActorStoppedError, ConfigError, NoReplyError } from '../util/errors.js';
import type { ActorEvent } from './events.js';
import { type HandlerRun, runTracked } from './handler-scope.js';
import { Lifecycle, StopBudget } from './lifecycle.js';
import { evicted, Mailbox, type MailboxConfig, Offer, SYSTEM_LANE } from './mailbox.js';
import { ActorRef, type AskOptions as RefAskOptions, checkTellOptions, type Target } from './ref.js';
import type { ChildSupervisor, LifecycleHooks, Runtime } from './runtime.js';
import type { Runnable } from './scheduler.js';
import type { Breaker } from '../resilience/breaker.js';
import { ActorContext, type ContextHost } from './context.js';
import type { ChildSpec } from './spec.js';

export const enum Status {
  Starting = 0,
  Running = 1,
  Restarting = 2,
  Stopping = 3,
  Stopped = 4,
  Failed = 5,
}

export const STATUS_NAMES = ['starting', 'running', 'restarting', 'stopping', 'stopped', 'failed'] as const;

/** Mailbox meta tags (a plain tell has meta undefined; an ask has its PendingAsk). */
export const EVENT = { tag: 'event' } as const;
export const SIGNAL = { tag: 'signal' } as const;
/** A system-lane message that runs runtime code in the actor's turn (e.g. a snapshot rollback). */
export const CONTROL = { tag: 'control' } as const;

interface Control {
  run(): void;
  done(error?: unknown): void;
}

const RESOLVED = Promise.resolve();

/** The state of an incarnation whose init has not completed (terminate is not run for it). */
const UNSTARTED: unique symbol = Symbol('genesis.unstarted');

/**
 * The cell *is* its mailbox (it extends Mailbox) rather than holding one: one object fewer per
 * actor (memory, GC, spawn time) and one indirection fewer on every tell and take.
 */
export class ActorCell extends Mailbox implements Runnable, AskParty, Target, ContextHost {
  state: unknown = UNSTARTED;
  status: Status = Status.Starting;
  /** Someone will look at the mailbox: queued to run, running, or a handler/init in flight. */
  scheduled = true;
  /** An async handler or init is in flight: the mailbox is held until it settles. */
  busy = false;
  readonly ref: ActorRef;
  /** The ask being handled, until replied to or deferred. */
  currentAsk: PendingAsk | null = null;
  /** Bumped whenever an incarnation ends: results of abandoned async handlers are ignored. */
  epoch = 0;
  /** The `ctx` of the current incarnation. */
  ctx: ActorContext;
  /** How this actor supervises its children (created on first need). */
  supervision: ChildSupervisor<ActorCell> | null = null;
  /** Persistence hooks, for actors spawned with `snapshot` or `partners`. */
  hooks: LifecycleHooks | null = null;
  /** Guards asks to this actor; created on the first ask (most actors are never asked). */
  breaker: Breaker | null = null;
  /** Stop and restart bookkeeping, created on first need (see Lifecycle). */
  private lifecycle: Lifecycle<ActorCell> | null = null;
  children: Map<string, ActorCell> | null = null;
  /** Asks this actor's current handler has outstanding (deadlock detection). */
  waitingOn: PendingAsk[] | null = null;
  deferred: Set<PendingAsk> | null = null;
  private logger: Logger | null = null;

  constructor(
    readonly system: Runtime<ActorCell>,
    readonly behavior: Behavior,
    readonly parentCell: ActorCell | null,
    readonly name: string,
    readonly path: string,
    /** init's argument; replaced when a restarting parent adopts this actor again. */
    public args: unknown,
    mailbox: MailboxConfig,
    /** Restart type, shutdownMs, maxMessageCrashes, breaker… (replaced like args). */
    public spec: ChildSpec,
  ) {
    super(mailbox);
    this.ref = new ActorRef(this);
    this.ctx = new ActorContext(this, 0);
  }

  get mailbox(): Mailbox {
    return this;
  }

  /** @internal */
  get life(): Lifecycle<ActorCell> {
    return (this.lifecycle ??= new Lifecycle<ActorCell>());
  }

  get restarts(): number {
    return this.lifecycle?.restarts ?? 0;
  }

  /** When the current incarnation started (0 for the first: it needs no backoff reset). */
  get startedAt(): number {
    return this.lifecycle?.startedAt ?? 0;
  }

  /** Actors watching this one (null if none). */
  get watchers(): Set<ActorCell> | null {
    return this.lifecycle?.watchers ?? null;
  }

  /** Topics this actor subscribed to, created on first use. */
  get topics(): string[] {
    return (this.life.topics ??= []);
  }

  get exitReason(): ExitReason | null {
    return this.lifecycle?.exitReason ?? null;
  }

  get backoffStep(): number {
    return this.lifecycle?.backoffStep ?? 0;
  }

  set backoffStep(step: number) {
    this.life.backoffStep = step;
  }

  get plan(): object | null {
    return this.lifecycle?.plan ?? null;
  }

  set plan(plan: object | null) {
    this.life.plan = plan;
  }

  /** Ended by its parent's restart, waiting for the parent's next init to adopt it again. */
  get held(): boolean {
    return this.lifecycle?.held ?? false;
  }

  // ---- Context -------------------------------------------------------------------------

  get self(): ActorRef {
    return this.ref;
  }

  get parent(): ActorRef | null {
    return this.parentCell === null ? null : this.parentCell.ref;
  }

  get log(): Logger {
    return (this.logger ??= this.system.log.child({ path: this.path }));
  }

  get mode(): string {
    return this.system.mode;
  }

  /**
   * Not yet stopped for good. A stopping actor (its terminate still running) is alive: it still
   * holds its name and is found by lookup, though it takes no new messages.
   */
  get isAlive(): boolean {
    return this.status < Status.Stopped;
  }

  /** Takes messages: not stopping or stopped. */
  get isActive(): boolean {
    return this.status < Status.Stopping;
  }

  get isRunning(): boolean {
    return this.status === Status.Running;
  }

  /** A handler (or init) of this actor is running or awaited: it holds its mailbox. */
  get inHandler(): boolean {
    return this.busy || this.system.current === this;
  }

  /** The run of this actor's tracked async handler, when `run` is it (a stale run is not). */
  ownsRun(run: HandlerRun): boolean {
    return this.busy && this.lifecycle?.run === run;
  }

  snapshotNow(): Promise<number> {
    if (this.hooks === null) throw new ConfigError('snapshotNow', `${this.path} was spawned without a snapshot option`);
    return this.hooks.snapshotNow();
  }

  // ---- Target: what refs reach -----------------------------------------------------------

  send(message: unknown, priority: number): boolean {
    return this.deliver(priority, message, undefined);
  }

  askFromHere(message: unknown, options: RefAskOptions | undefined): Promise<unknown> {
    return this.system.ask(this, message, options, this.system.current);
  }

  lookup(path: string): ActorRef | undefined {
    return this.system.lookup(path);
  }

  spawn<S, CM, A>(behavior: Behavior<S, CM, A>, options?: Omit<SpawnOptions<A>, 'parent'>): ActorRef<CM> {
    return this.system.spawnChild(behavior, options, this) as ActorRef<CM>;
  }

  tell<T>(ref: ActorRef<T>, message: T, options?: TellOptions): boolean {
    return ref.tell(message, options);
  }

  ask<R = unknown, T = unknown>(ref: ActorRef<T>, message: T, options?: AskOptions): Promise<R> {
    return this.system.ask(cellOf(ref), message, options, this) as Promise<R>;
  }

  /**
   * An ask made on behalf of `cause` (an ask this actor deferred) outside its handler — a
   * forwarder's later attempt — so that deadlock detection can follow it.
   */
  askFor<R = unknown>(ref: ActorRef, message: unknown, options: AskOptions | undefined, cause: PendingAsk): Promise<R> {
    return this.system.ask(cellOf(ref), message, options, this, cause) as Promise<R>;
  }

  /** The ask a handler of this actor is working for: the one it handles, or just deferred. */
  get askInHand(): PendingAsk | null {
    return this.currentAsk ?? this.lifecycle?.handling ?? null;
  }

  reply(value: unknown): boolean {
    const ask = this.currentAsk;
    if (ask === null) {
      if (this.log.isLevelEnabled('debug')) this.log.debug('ctx.reply with no ask being handled: ignored');
      return false;
    }
    this.currentAsk = null;
    return ask.succeed(value);
  }

  deferReply(): DeferredReply {
    const ask = this.currentAsk;
    if (ask === null) throw new ActorStoppedError(this.path, `ctx.deferReply() in ${this.path}: no ask is being handled (or it was already answered)`);
    this.currentAsk = null;
    if (!ask.settled) {
      ask.deferredBy = this;
      (this.deferred ??= new Set()).add(ask);
      this.life.handling = ask;
    }
    // Bound methods rather than closures: no function body per ask to set up (a pool defers
    // every ask it routes).
    const reply = ask.succeed.bind(ask) as DeferredReply;
    reply.fail = ask.fail.bind(ask);
    return reply;
  }

  publish(topic: string, data: unknown, options?: TellOptions): void {
    this.system.publishFrom(topic, data, this, options === undefined ? 2 : checkTellOptions(options));
  }

  subscribe(topic: string): void {
    this.system.subscribe(this.ref, topic);
  }

  unsubscribe(topic: string): boolean {
    return this.system.unsubscribe(this.ref, topic);
  }

  watch(ref: ActorRef): void {
    const target = cellOf(ref);
    if (target.status >= Status.Stopped) {
      this.signal({ type: 'down', ref, reason: target.exitReason ?? 'normal' });
      return;
    }
    (target.life.watchers ??= new Set()).add(this);
    (this.life.watching ??= new Set()).add(target); // to leave the target's set when this one stops
  }

  unwatch(ref: ActorRef): void {
    const target = cellOf(ref);
    target.watchers?.delete(this);
    this.lifecycle?.watching?.delete(target);
  }

  stop(): void {
    if (this.status !== Status.Running && this.status !== Status.Starting) return;
    this.life.exitRequested = true;
    // Called outside a handler (a timer, say): exit now.
    if (this.system.current !== this && !this.busy && this.status === Status.Running) this.afterHandler();
  }

  // ---- Delivery ------------------------------------------------------------------------

  /** Enqueues into the mailbox; on refusal the message goes to dead letters and an ask fails. */
  deliver(priority: number, message: unknown, meta: unknown): boolean {
    if (this.status >= Status.Stopping) {
      this.undeliverable(message, meta, 'stopped');
      return false;
    }
    const mailbox: Mailbox = this;
    const offered = mailbox.offer(priority, message, meta);
    if (offered !== Offer.Accepted) {
      const overflow = mailbox.config.overflow;
      if (offered === Offer.Refused) {
        this.undeliverable(message, meta, overflow === 'reject' ? 'rejected' : overflow === 'drop-newest' ? 'dropped-newest' : 'dropped-oldest');
        return false;
      }
      const { message: victim, meta: victimMeta } = evicted;
      evicted.message = evicted.meta = undefined;
      this.undeliverable(victim, victimMeta, 'dropped-oldest');
    }
    this.wake();
    return true;
  }

  /** Enqueues a signal on the system lane (never refused while the actor lives). */
  signal(signal: Signal): void {
    if (this.status >= Status.Stopping) return;
    this.pushSystem(signal, SIGNAL);
    this.wake();
  }

  /** Queues the actor to run, unless it already is (or is held by a handler, init or restart). */
  private wake(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
  }

  private undeliverable(message: unknown, meta: unknown, reason: DeadLetterReason): void {
    if (meta === SIGNAL) return; // signals to a dead actor have no one to inform
    if (meta === CONTROL) return (message as Control).done(new ActorStoppedError(this.path));
    if (meta === EVENT) {
      this.system.deadLetters.record(this.path, message, reason === 'stopped' ? 'stopped' : 'undeliverable');
      return;
    }
    this.system.deadLetters.record(this.path, message, reason);
    if (meta instanceof PendingAsk) {
      meta.fail(reason === 'stopped' ? new ActorStoppedError(this.path) : this.system.mailboxFull(this));
    }
  }

  // ---- Running -------------------------------------------------------------------------

  /**
   * Calls a handler that is an `async` function inside a tracked run, so that asks it makes
   * after an await are still attributed to this actor (sync handlers are called directly).
   */
  private tracked(fn: (a: unknown, b: unknown, ctx: Context) => unknown, a: unknown, b: unknown): unknown {
    const run: HandlerRun = { owner: this };
    this.life.run = run;
    return runTracked(run, () => fn.call(this.behavior, a, b, this.ctx));
  }

  /**
   * Runs init for a new incarnation: a sync init leaves the actor running at once, an async one
   * holds the mailbox until it settles. A throw is a crash, reported to the supervisor.
   */
  start(): void {
    const system = this.system;
    const behavior = this.behavior;
    const previous = system.current;
    const epoch = this.epoch;
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

  private initialized(): void {
    this.status = Status.Running;
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

  private settleStart(started: boolean): void {
    const life = this.lifecycle;
    const waiters = life?.startWaiters;
    if (waiters == null) return;
    life!.startWaiters = null;
    for (const resolve of waiters) resolve(started);
  }

  /** Called by the scheduler: handles up to `throughput` messages. */
  run(): number {
    // A stale run-queue entry (the actor restarted, or is held by an async handler) does nothing.
    if (this.status !== Status.Running || this.busy) return 0;
    const system = this.system;
    const mailbox: Mailbox = this;
    const limit = mailbox.config.throughput;
    system.current = this;
    let handled = 0;
    while (true) {
      if (mailbox.isEmpty) {
        this.scheduled = false;
        break;
      }
      if (handled >= limit) {
        system.scheduler.enqueue(this); // fairness: back of the queue, still scheduled
        break;
      }
      const message = mailbox.take();
      const meta = mailbox.meta;
      if (meta === undefined) handled += this.handleTell(message, mailbox.lane);
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

  private handleTell(message: unknown, lane: number): number {
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
    const mailbox: Mailbox = this;
    const max = mailbox.config.batchSize;
    if (lane !== SYSTEM_LANE) while (batch.length < max && mailbox.nextIsTellInLane(lane)) batch.push(mailbox.take());
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

  private handleAsk(message: unknown, ask: PendingAsk): void {
    // An ask whose caller has given up (timeout, abort) is still handled like any other: nothing
    // is lost, and ctx.reply / deferReply simply answer no one (a settled ask ignores them).
    this.currentAsk = ask;
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
      this.endRun();
      this.crash(error, message, ask, 'receive');
      return;
    }
    this.settle(result, message, ask, 'receive');
  }

  private handleEvent(event: ActorEvent): void {
    const behavior = this.behavior;
    let result: unknown;
    try {
      result =
        (behavior[ASYNC_HANDLERS] & Handler.OnEvent) === 0
          ? behavior.onEvent!(this.state, event, this.ctx)
          : this.tracked(behavior.onEvent as never, this.state, event);
    } catch (error) {
      this.endRun();
      this.crash(error, event, EVENT, 'onEvent');
      return;
    }
    this.settle(result, event, undefined, 'onEvent');
  }

  /** Runs `fn` in this actor's turn (after the handler in progress); resolves once it ran. */
  runInTurn(fn: () => void): Promise<void> {
    if (this.status >= Status.Stopping) return Promise.reject(new ActorStoppedError(this.path));
    return new Promise((resolve, reject) => {
      const control: Control = { run: fn, done: (error) => (error === undefined ? resolve() : reject(error)) };
      this.pushSystem(control, CONTROL);
      this.wake();
    });
  }

  private handleControl(control: Control): void {
    try {
      control.run();
      control.done();
    } catch (error) {
      control.done(error);
    }
  }

  private handleSignal(signal: Signal): void {
    const behavior = this.behavior;
    const onSignal = behavior.onSignal;
    if (onSignal === undefined) return;
    let result: unknown;
    try {
      result =
        (behavior[ASYNC_HANDLERS] & Handler.OnSignal) === 0
          ? onSignal(this.state, signal, this.ctx)
          : this.tracked(onSignal as never, this.state, signal);
    } catch (error) {
      this.endRun();
      this.crash(error, signal, SIGNAL, 'onSignal');
      return;
    }
    this.settle(result, signal, undefined, 'onSignal');
  }

  /** Applies a handler's result: the new state now, or once its promise settles. */
  private settle(result: unknown, message: unknown, ask: PendingAsk | undefined, where: string): void {
    if (result !== undefined) {
      const epoch = this.epoch;
      const async = adopt(
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
          this.endRun();
          this.crash(error, message, ask ?? (where === 'onEvent' ? EVENT : undefined), where);
        },
      );
      if (async) {
        this.busy = true;
        return;
      }
      this.state = result;
    }
    this.finishHandler(ask);
    this.afterHandler();
  }

  private finishHandler(ask: PendingAsk | undefined): void {
    this.waitingOn = null; // asks still outstanding no longer block this actor
    this.endRun();
    if (this.hooks !== null) this.hooks.afterHandler();
    if (ask !== undefined && this.currentAsk === ask) {
      this.currentAsk = null;
      ask.fail(new NoReplyError(this.path));
    }
  }

  /** The handler has ended: it no longer works for a deferred ask, nor owns a tracked run. */
  private endRun(): void {
    const life = this.lifecycle;
    if (life !== null) {
      life.handling = null;
      life.run = null;
    }
  }

  /** Acts on a stop asked for during the handler; true if the actor is leaving. */
  private afterHandler(): boolean {
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
  private resume(): void {
    if (this.isEmpty) this.scheduled = false;
    else this.system.scheduler.enqueue(this);
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
      this.log.error({ err: error, in: where }, `actor ${this.path} failed in ${where} while stopping`);
      if (where !== 'init' && where !== 'supervision') this.system.deadLetters.record(this.path, message, 'crashed', error);
      ask?.fail(crashedError(this.path, error));
      this.notifyIdle();
      return;
    }
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
  private redeliver(message: unknown, meta: unknown, where: string): boolean {
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
  private tighten(deadline: number): void {
    const budget = this.lifecycle?.budget;
    if (budget == null || deadline >= budget.deadline) return;
    budget.tighten(deadline);
    if (this.children !== null) for (const child of this.children.values()) child.tighten(deadline);
  }

  private async runEnd(reason: ExitReason, forRestart: boolean, budget: StopBudget): Promise<void> {
    this.supervision?.cancelPending(); // restarts of children that were waiting for a backoff
    // An init or a restart of this actor's waiting for one of its children to start gives up.
    if (this.children !== null) for (const child of this.children.values()) child.settleStart(false);
    // Never run terminate (or the children's) in the stack of whoever asked for the stop.
    await null;
    if (this.busy && !(await budget.race(this.idle()))) this.kill();
    const children = this.children;
    if (children !== null && children.size > 0) {
      for (const child of [...children.values()].reverse()) {
        await (forRestart ? child.hold(budget.deadline) : child.requestStop('shutdown', budget.deadline));
      }
    }
    // Replies deferred by this incarnation will not come (OTP: the caller sees the server die).
    this.failDeferred(`actor ${this.path} ${reason === 'normal' || reason === 'shutdown' ? 'stopped' : 'crashed'} before replying`);
    await this.terminate(reason, budget);
    budget.dispose();
  }

  /** The handler in flight outlived the stop budget: abandon it (its result, if any, is ignored). */
  private kill(): void {
    const shutdownMs = this.spec.shutdownMs;
    this.log.warn({ shutdownMs }, `${this.path} did not finish its handler within its stop budget: killed`);
    this.epoch++; // its handler's result, if it ever comes, is ignored, and its ctx goes dead
    this.ctx = new ActorContext(this, this.epoch); // for terminate and what follows
    this.busy = false;
    this.waitingOn = null;
    this.endRun();
    this.hooks?.handlerAbandoned();
    this.currentAsk?.fail(new ActorStoppedError(this.path, `actor ${this.path} was killed before replying`));
    this.currentAsk = null;
  }

  /** Runs terminate for an incarnation that started, within what is left of the budget. */
  private async terminate(reason: ExitReason, budget: StopBudget): Promise<void> {
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
      this.log.error({ err: error }, `terminate of ${this.path} failed`);
      return;
    }
    let failed: (error: unknown) => void = () => {};
    const settled = new Promise<void>((resolve) => {
      failed = (error) => {
        this.log.error({ err: error }, `terminate of ${this.path} failed`);
        resolve();
      };
      if (!adopt(result, () => resolve(), failed)) resolve();
    });
    if (!(await budget.race(settled))) this.log.warn(`terminate of ${this.path} did not finish within its stop budget: killed`);
  }

  /** Starts a new incarnation after the old one has ended (the supervisor's restart). */
  reinit(): void {
    const life = this.life;
    life.ending = null;
    life.budget = null;
    life.held = false;
    life.restarts++;
    this.epoch++;
    this.ctx = new ActorContext(this, this.epoch);
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

  private releaseHeldChildren(): void {
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

  private async stopChildren(deadline: number): Promise<void> {
    const children = this.children;
    if (children === null || children.size === 0) return;
    const until = Math.min(deadline, this.system.clock.now() + this.spec.shutdownMs);
    for (const child of [...children.values()].reverse()) await child.requestStop('shutdown', until);
  }

  private finishStop(reason: ExitReason, failed: boolean): void {
    this.status = failed ? Status.Failed : Status.Stopped;
    this.scheduled = true; // never enqueue a stopped actor again
    this.drainToDeadLetters(); // anything that slipped in while terminate ran
    this.failDeferred(`actor ${this.path} stopped before replying`);
    const life = this.life;
    life.budget?.dispose();
    const topics = life.topics;
    if (topics) for (const topic of [...topics]) this.system.unsubscribe(this.ref, topic);
    this.hooks?.stopped();
    this.breaker?.stop();
    this.system.actorStopped(this, failed);
    const watchers = life.watchers;
    if (watchers) {
      for (const watcher of watchers) {
        watcher.lifecycle?.watching?.delete(this);
        watcher.signal({ type: 'down', ref: this.ref, reason });
      }
      life.watchers = null;
    }
    const watching = life.watching;
    if (watching) for (const target of watching) target.watchers?.delete(this);
    if (life.stopWaiters !== null) for (const resolve of life.stopWaiters) resolve();
    life.stopWaiters = null;
  }

  private failDeferred(why: string): void {
    const deferred = this.deferred;
    this.deferred = null;
    if (deferred !== null) for (const ask of deferred) ask.fail(new ActorStoppedError(this.path, why));
  }

  private drainToDeadLetters(): void {
    while (!this.isEmpty) {
      const message = this.take();
      this.undeliverable(message, this.meta, 'stopped');
    }
  }

  /** Resolves once no handler is in flight. */
  private idle(): Promise<void> {
    if (!this.busy) return RESOLVED;
    const life = this.life;
    return new Promise((resolve) => (life.idleWaiters ??= []).push(resolve));
  }

  private notifyIdle(): void {
    const life = this.lifecycle;
    if (life === null) return;
    const waiters = life.idleWaiters;
    life.idleWaiters = null;
    if (waiters !== null) for (const waiter of waiters) waiter();
  }
}

/** What the asker of a crashed handler gets: crashed, with what the handler threw as `cause`. */
function crashedError(path: string, error: unknown): ActorStoppedError {
  return new ActorStoppedError(path, `actor ${path} crashed handling the ask`, { cause: error, crashed: true });
}

/** The local actor behind a ref (a ref to an actor elsewhere has none). */
export function cellOf(ref: ActorRef): ActorCell {
  const target = ref.target;
  if (target instanceof ActorCell) return target;
  throw new ConfigError('ref', `${ref.path} is not an actor of this process`);
}

/** The actor whose handler got `ctx`: for the runtime's own behaviours (supervisors, pools). */
export function cellOfContext(ctx: Context): ActorCell {
  if (ctx instanceof ActorContext && ctx.cell instanceof ActorCell) return ctx.cell;
  throw new ConfigError('ctx', 'is not the context of an actor of this runtime');
}
