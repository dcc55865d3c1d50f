/**
 * The run loop of an actor: delivery into its mailbox and the handling of what is there — one
 * message at a time, a handler's result adopted (a promise holds the mailbox until it settles),
 * async handlers tracked across their awaits. The base of the actor's cell; the incarnation
 * lifecycle (incarnation.ts) and the actor's own API (cell.ts) build on it — one object per actor.
 */
import type { Logger } from 'pino';
import type { Breaker } from '../resilience/breaker.js';
import { adopt, isThenable } from '../util/adopt.js';
import { ActorStoppedError, NoReplyError } from '../util/errors.js';
import { ASYNC_HANDLERS, type Behavior, type Context, type ExitReason, Handler, RUNTIME_BEHAVIORS, type Signal } from './actor.js';
import { type AskParty, PendingAsk } from './ask.js';
import type { ActorContext } from './context.js';
import type { DeadLetterReason } from './dead-letters.js';
import type { ActorEvent } from './events.js';
import { type HandlerRun, runTracked } from './handler-scope.js';
import { Lifecycle } from './lifecycle.js';
import { evicted, LAST_LANE, Mailbox, type MailboxConfig, Offer, SYSTEM_LANE } from './mailbox.js';
import type { ChildSupervisor, LifecycleHooks, Runtime } from './runtime.js';
import type { Runnable } from './scheduler.js';
import { ServiceTime } from './service-time.js';
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

export interface Control {
  run(): void;
  done(error?: unknown): void;
}

export const RESOLVED = Promise.resolve();

/** The state of an incarnation whose init has not completed (terminate is not run for it). */
export const UNSTARTED: unique symbol = Symbol('genesis.unstarted');

export abstract class RunLoop extends Mailbox implements Runnable, AskParty {
  private logger: Logger | null = null;
  state: unknown = UNSTARTED;
  status: Status = Status.Starting;
  /** Someone will look at the mailbox: queued to run, running, or a handler/init in flight. */
  scheduled = true;
  /** An async handler or init is in flight: the mailbox is held until it settles. */
  busy = false;
  /** The ask being handled, until replied to or deferred. */
  currentAsk: PendingAsk | null = null;
  /** Bumped whenever an incarnation ends: results of abandoned async handlers are ignored. */
  epoch = 0;
  /** The `ctx` of the current incarnation (made by the subclass, which is its host). */
  ctx!: ActorContext;
  /** How this actor supervises its children (created on first need). */
  supervision: ChildSupervisor<this> | null = null;
  /** Persistence hooks, for actors spawned with `snapshot` or `partners`. */
  hooks: LifecycleHooks | null = null;
  /** Guards asks to this actor; created on the first ask (most actors are never asked). */
  breaker: Breaker | null = null;
  /** Stop and restart bookkeeping, created on first need (see Lifecycle). */
  protected lifecycle: Lifecycle<this> | null = null;
  children: Map<string, this> | null = null;
  /** Asks this actor's current handler has outstanding (deadlock detection). */
  waitingOn: PendingAsk[] | null = null;
  deferred: Set<PendingAsk> | null = null;
  /** How long it holds its mailbox per ask (admission control); made on its first ask. */
  service: ServiceTime | null = null;

  readonly system: Runtime<this>;
  readonly parentCell: this | null;

  constructor(
    system: Runtime<never>,
    readonly behavior: Behavior,
    parentCell: RunLoop | null,
    readonly name: string,
    readonly path: string,
    /** init's argument; replaced when a restarting parent adopts this actor again. */
    public args: unknown,
    mailbox: MailboxConfig,
    /** Restart type, shutdownMs, maxMessageCrashes, breaker… (replaced like args). */
    public spec: ChildSpec,
  ) {
    super(mailbox);
    this.system = system as Runtime<this>;
    this.parentCell = parentCell as this | null;
  }

  get mailbox(): Mailbox {
    return this;
  }

  /** @internal */
  get life(): Lifecycle<this> {
    return (this.lifecycle ??= new Lifecycle<this>());
  }

  get restarts(): number {
    return this.lifecycle?.restarts ?? 0;
  }

  /** Actors watching this one (null if none). */
  get watchers(): Set<this> | null {
    return this.lifecycle?.watchers ?? null;
  }

  /** Topics this actor subscribed to, created on first use. */
  get topics(): string[] {
    return (this.life.topics ??= []);
  }

  get exitReason(): ExitReason | null {
    return this.lifecycle?.exitReason ?? null;
  }

  /** Ended by its parent's restart, waiting for the parent's next init to adopt it again. */
  get held(): boolean {
    return this.lifecycle?.held ?? false;
  }

  get log(): Logger {
    return (this.logger ??= this.system.log.child({ path: this.path }));
  }

  /** The system mode holds this actor back now (parked, or deferring priorities 3–4). */
  get heldBack(): boolean {
    return this.system.maxLane < LAST_LANE && !this.unrestricted;
  }

  /** A pool (the runtime's forwarder): its own breaker, when it has one, counts its asks' outcomes. */
  get answersForForwarded(): boolean {
    return RUNTIME_BEHAVIORS.has(this.behavior);
  }

  /** Runs whatever the mode: an essential actor, or the runtime's own (supervisors, pools). */
  get unrestricted(): boolean {
    return this.spec.essential || RUNTIME_BEHAVIORS.has(this.behavior);
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

  /**
   * An ask made now by this busy actor (ctx.ask) provably comes from its async handler in flight:
   * made in that handler's own tracked run — not from a timer, nor an earlier handler's leftovers.
   * (An untracked handler's later asks are not assumed to be its own: a false deadlock would fail
   * a correct program, a missed one only waits for its timeout.)
   */
  asksFromItsHandler(run: HandlerRun | undefined): boolean {
    return run !== undefined && this.lifecycle?.run === run;
  }

  /** The run of this actor's tracked async handler, when `run` is it (a stale run is not). */
  ownsRun(run: HandlerRun): boolean {
    return this.busy && this.lifecycle?.run === run;
  }

  // ---- Delivery ------------------------------------------------------------------------

  /**
   * Admission control: would an ask at `priority` due in `timeoutMs` wait here past its
   * deadline? It waits for the handler in flight and for what is queued at its priority or
   * above, so the lowest priorities are refused first. No queue, no learned service time: no.
   */
  wouldMissDeadline(priority: number, timeoutMs: number): boolean {
    const service = this.service;
    if (service === null || service.ms === 0) return false;
    // Fits even behind the whole queue (the usual case): no need to count by priority.
    if (!service.wouldMiss(this.size + 1, timeoutMs)) return false;
    return service.wouldMiss(this.queuedAhead(priority) + (this.inHandler ? 1 : 0), timeoutMs);
  }

  /** Enqueues into the mailbox; on refusal the message goes to dead letters and an ask fails. */
  deliver(priority: number, message: unknown, meta: unknown): boolean {
    if (this.status >= Status.Stopping) {
      this.undeliverable(message, meta, 'stopped');
      return false;
    }
    const offered = this.offer(priority, message, meta);
    if (offered !== Offer.Accepted) {
      this.system.refused(this); // a full mailbox: saturation, a health signal like a refusal
      const overflow = this.config.overflow;
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
  /** @internal */
  wake(): void {
    if (!this.scheduled) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
  }

  protected undeliverable(message: unknown, meta: unknown, reason: DeadLetterReason): void {
    if (meta === SIGNAL) return; // signals to a dead actor have no one to inform
    if (meta === CONTROL) {
      (message as Control).done(new ActorStoppedError(this.path));
      return;
    }
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

  /** Runs `fn` in this actor's turn (after the handler in progress); resolves once it ran. */
  runInTurn(fn: () => void): Promise<void> {
    if (this.status >= Status.Stopping) return Promise.reject(new ActorStoppedError(this.path));
    return new Promise((resolve, reject) => {
      const control: Control = { run: fn, done: (error) => (error === undefined ? resolve() : reject(error)) };
      this.pushSystem(control, CONTROL);
      this.wake();
    });
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
