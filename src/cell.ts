/**
 * ActorCell: the runtime side of one actor — its state, mailbox, lifecycle and children. The
 * cell is also the `ctx` its handlers receive (one object per actor, not one per message).
 *
 * Lifecycle: starting (init in flight) → running → stopping (children, then terminate) →
 * stopped. The cell survives restarts; a stopped cell is never reused.
 */
import type { Logger } from 'pino';
import type {
  AskOptions,
  Behavior,
  Context,
  DeferredReply,
  ExitReason,
  Signal,
  SpawnOptions,
  TellOptions,
} from './actor.js';
import { type AskParty, PendingAsk } from './ask.js';
import type { DeadLetterReason } from './dead-letters.js';
import { ActorStoppedError, NoReplyError } from './errors.js';
import type { ActorEvent } from './events.js';
import { evicted, Mailbox, type MailboxConfig, Offer, SYSTEM_LANE } from './mailbox.js';
import { ActorRef, checkPriority } from './ref.js';
import type { Runnable } from './scheduler.js';
import type { ActorSystem } from './system.js';

export const enum Status {
  Starting = 0,
  Running = 1,
  Stopping = 2,
  Stopped = 3,
}

export const STATUS_NAMES = ['starting', 'running', 'stopping', 'stopped'] as const;

/** Mailbox meta tags (a plain tell has meta undefined; an ask has its PendingAsk). */
export const EVENT = { tag: 'event' } as const;
export const SIGNAL = { tag: 'signal' } as const;

const RESOLVED = Promise.resolve();

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * The cell *is* its mailbox (it extends Mailbox) rather than holding one: one object fewer per
 * actor (memory, GC, spawn time) and one indirection fewer on every tell and take.
 */
export class ActorCell extends Mailbox implements Runnable, AskParty, Context {
  state: unknown = undefined;
  status: Status = Status.Starting;
  /** Someone will look at the mailbox: queued to run, running, or a handler/init in flight. */
  scheduled = true;
  /** An async handler or init is in flight: the mailbox is held until it settles. */
  busy = false;
  readonly ref: ActorRef;
  /** The ask being handled, until replied to or deferred. */
  currentAsk: PendingAsk | null = null;
  /** Set by ctx.stop() or a stop request during a handler: stop once it has finished. */
  stopRequested: ExitReason | null = null;
  children: Map<string, ActorCell> | null = null;
  waitingOn: AskParty[] | null = null;
  deferred: Set<PendingAsk> | null = null;
  topics: string[] | null = null;
  watchers: Set<ActorCell> | null = null;
  private logger: Logger | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    readonly system: ActorSystem,
    readonly behavior: Behavior,
    readonly parentCell: ActorCell | null,
    readonly name: string,
    readonly path: string,
    readonly args: unknown,
    mailbox: MailboxConfig,
  ) {
    super(mailbox);
    this.ref = new ActorRef(this);
  }

  get mailbox(): Mailbox {
    return this;
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

  get isAlive(): boolean {
    return this.status < Status.Stopping;
  }

  spawn<S, CM, A>(behavior: Behavior<S, CM, A>, options?: Omit<SpawnOptions<A>, 'parent'>): ActorRef<CM> {
    return this.system.spawnChild(behavior, options, this) as ActorRef<CM>;
  }

  tell<T>(ref: ActorRef<T>, message: T, options?: TellOptions): boolean {
    return ref.tell(message, options);
  }

  ask<R = unknown, T = unknown>(ref: ActorRef<T>, message: T, options?: AskOptions): Promise<R> {
    return this.system.ask(ref.cell, message, options, this) as Promise<R>;
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
    ask.deferredBy = this;
    (this.deferred ??= new Set()).add(ask);
    const reply = ((value: unknown) => ask.succeed(value)) as DeferredReply;
    reply.fail = (error: unknown) => ask.fail(error);
    return reply;
  }

  publish(topic: string, data: unknown, options?: TellOptions): void {
    this.system.publishFrom(topic, data, this, options === undefined ? 2 : checkPriority(options));
  }

  subscribe(topic: string): void {
    this.system.subscribe(this.ref, topic);
  }

  unsubscribe(topic: string): boolean {
    return this.system.unsubscribe(this.ref, topic);
  }

  watch(ref: ActorRef): void {
    const target = ref.cell;
    if (target.status === Status.Stopped) {
      this.signal({ type: 'down', ref, reason: target.exitReason ?? 'normal' });
    } else (target.watchers ??= new Set()).add(this);
  }

  unwatch(ref: ActorRef): void {
    ref.cell.watchers?.delete(this);
  }

  stop(): void {
    this.stopRequested ??= 'normal';
    // Called outside a handler (a timer, say): stop now.
    if (this.system.current !== this && !this.busy && this.status === Status.Running) this.stopNow('normal');
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
    if (!this.scheduled) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
    return true;
  }

  /** Enqueues a signal on the system lane (never refused while the actor lives). */
  signal(signal: Signal): void {
    if (this.status >= Status.Stopping) return;
    this.pushSystem(signal, SIGNAL);
    if (!this.scheduled) {
      this.scheduled = true;
      this.system.scheduler.enqueue(this);
    }
  }

  private undeliverable(message: unknown, meta: unknown, reason: DeadLetterReason): void {
    if (meta === SIGNAL) return; // signals to a dead actor have no one to inform
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

  /** Runs init; a sync init leaves the actor running, an async one holds the mailbox until it settles. */
  start(): void {
    const system = this.system;
    const previous = system.current;
    system.current = this;
    let result: unknown;
    try {
      result = this.behavior.init === undefined ? undefined : this.behavior.init(this.args, this);
    } catch (error) {
      system.current = previous;
      this.crash(error, undefined, undefined, 'init');
      return;
    }
    system.current = previous;
    if (isThenable(result)) {
      this.busy = true;
      result.then(
        (state) => {
          this.busy = false;
          this.state = state;
          this.initialized();
        },
        (error) => {
          this.busy = false;
          this.crash(error, undefined, undefined, 'init');
        },
      );
      return;
    }
    this.state = result;
    this.initialized();
  }

  private initialized(): void {
    if (this.status !== Status.Starting) return; // stopped while init was in flight
    this.status = Status.Running;
    if (this.stopRequested !== null) this.stopNow(this.stopRequested);
    else this.resume();
  }

  /** Called by the scheduler: handles up to `throughput` messages. */
  run(): number {
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
        result = behavior.receive!(this.state, message, this);
      } catch (error) {
        this.crash(error, message, undefined, 'receive');
        return 1;
      }
      this.settle(result, message, undefined);
      return 1;
    }
    // Batch the consecutive tells of this priority, up to batchSize.
    const batch = [message];
    const mailbox: Mailbox = this;
    const max = mailbox.config.batchSize;
    if (lane !== SYSTEM_LANE) while (batch.length < max && mailbox.nextIsTellInLane(lane)) batch.push(mailbox.take());
    try {
      result = behavior.receiveBatch(this.state, batch, this);
    } catch (error) {
      this.crash(error, batch, undefined, 'receiveBatch');
      return batch.length;
    }
    this.settle(result, batch, undefined);
    return batch.length;
  }

  private handleAsk(message: unknown, ask: PendingAsk): void {
    if (ask.settled) return this.skipAbandonedAsk(message);
    this.currentAsk = ask;
    const behavior = this.behavior;
    let result: unknown;
    try {
      result =
        behavior.receive !== undefined
          ? behavior.receive(this.state, message, this)
          : behavior.receiveBatch!(this.state, [message], this);
    } catch (error) {
      this.crash(error, message, ask, 'receive');
      return;
    }
    this.settle(result, message, ask);
  }

  /** An ask that timed out or was aborted before its turn: nobody waits for the answer, but the
   *  message is still handled as a tell would be (it is not lost). */
  private skipAbandonedAsk(message: unknown): void {
    this.handleTell(message, SYSTEM_LANE);
  }

  private handleEvent(event: ActorEvent): void {
    let result: unknown;
    try {
      result = this.behavior.onEvent!(this.state, event, this);
    } catch (error) {
      this.crash(error, event, undefined, 'onEvent');
      return;
    }
    this.settle(result, event, undefined);
  }

  private handleSignal(signal: Signal): void {
    const onSignal = this.behavior.onSignal;
    if (onSignal === undefined) return;
    let result: unknown;
    try {
      result = onSignal(this.state, signal, this);
    } catch (error) {
      this.crash(error, signal, undefined, 'onSignal');
      return;
    }
    this.settle(result, signal, undefined);
  }

  /** Applies a handler's result: the new state now, or once its promise settles. */
  private settle(result: unknown, message: unknown, ask: PendingAsk | undefined): void {
    if (result !== undefined) {
      if (isThenable(result)) {
        this.busy = true;
        result.then(
          (state) => {
            this.busy = false;
            if (this.status >= Status.Stopping) return;
            if (state !== undefined) this.state = state;
            this.finishHandler(ask);
            if (this.status === Status.Running) this.resume();
          },
          (error) => {
            this.busy = false;
            if (this.status >= Status.Stopping) return;
            this.crash(error, message, ask, 'receive');
          },
        );
        return;
      }
      this.state = result;
    }
    this.finishHandler(ask);
  }

  private finishHandler(ask: PendingAsk | undefined): void {
    this.waitingOn = null; // asks still outstanding no longer block this actor
    if (ask !== undefined && this.currentAsk === ask) {
      this.currentAsk = null;
      ask.fail(new NoReplyError(this.path));
    }
    if (this.stopRequested !== null) this.stopNow(this.stopRequested);
  }

  /** After an async step: run again if messages wait, else go idle. */
  private resume(): void {
    if (this.isEmpty) this.scheduled = false;
    else this.system.scheduler.enqueue(this);
  }

  // ---- Failure and stopping ------------------------------------------------------------

  /**
   * A handler threw or rejected. The message goes to dead letters with the error, its asker gets
   * ActorStoppedError (cause: the error), and the actor's parent decides what happens next.
   */
  crash(error: unknown, message: unknown, ask: PendingAsk | undefined, where: string): void {
    this.currentAsk = null;
    this.waitingOn = null;
    this.log.error({ err: error, path: this.path, in: where }, `actor ${this.path} crashed in ${where}`);
    if (where !== 'init') {
      const messages = where === 'receiveBatch' ? (message as unknown[]) : [message];
      for (const m of messages) this.system.deadLetters.record(this.path, m, 'crashed', error);
    }
    ask?.fail(new ActorStoppedError(this.path, `actor ${this.path} crashed handling the ask`, { cause: error }));
    this.system.actorCrashed(this, error);
  }

  /** Stops the actor: at once when idle, else after the handler in flight has finished. */
  requestStop(reason: ExitReason): Promise<void> {
    if (this.status >= Status.Stopping) return this.stopping ?? RESOLVED;
    if (this.busy || this.system.current === this) {
      this.stopRequested ??= reason;
      return new Promise((resolve) => (this.stopWaiters ??= []).push(resolve));
    }
    return this.stopNow(reason);
  }

  exitReason: ExitReason | null = null;
  private stopWaiters: (() => void)[] | null = null;

  /**
   * Stops now: the mailbox goes to dead letters, children stop (reverse start order), then
   * terminate runs. Synchronous when there are no children and terminate is synchronous.
   */
  stopNow(reason: ExitReason): Promise<void> {
    if (this.status >= Status.Stopping) return this.stopping ?? RESOLVED;
    this.status = Status.Stopping;
    this.stopRequested = null;
    this.exitReason = reason;
    this.drainToDeadLetters();
    const children = this.children;
    if (children !== null && children.size > 0) {
      const stopping = this.stopChildren([...children.values()].reverse()).then(() => this.terminate(reason));
      return (this.stopping = stopping);
    }
    const terminated = this.terminate(reason);
    if (terminated !== RESOLVED) this.stopping = terminated;
    return terminated;
  }

  private async stopChildren(children: ActorCell[]): Promise<void> {
    for (const child of children) await child.requestStop('shutdown');
  }

  private terminate(reason: ExitReason): Promise<void> {
    const terminate = this.behavior.terminate;
    if (terminate !== undefined) {
      try {
        const result = terminate(this.state, reason, this);
        if (isThenable(result)) {
          return Promise.resolve(result).then(
            () => this.finishStop(reason),
            (error) => {
              this.log.error({ err: error, path: this.path }, `terminate of ${this.path} failed`);
              this.finishStop(reason);
            },
          );
        }
      } catch (error) {
        this.log.error({ err: error, path: this.path }, `terminate of ${this.path} failed`);
      }
    }
    this.finishStop(reason);
    return RESOLVED;
  }

  private finishStop(reason: ExitReason): void {
    this.status = Status.Stopped;
    this.scheduled = true; // never enqueue a stopped actor again
    this.drainToDeadLetters(); // anything that slipped in while terminate ran
    if (this.deferred !== null) {
      for (const ask of this.deferred) ask.fail(new ActorStoppedError(this.path, `actor ${this.path} stopped before replying`));
      this.deferred = null;
    }
    if (this.topics !== null) for (const topic of [...this.topics]) this.system.unsubscribe(this.ref, topic);
    this.system.actorStopped(this);
    if (this.watchers !== null) {
      for (const watcher of this.watchers) watcher.signal({ type: 'down', ref: this.ref, reason });
      this.watchers = null;
    }
    if (this.stopWaiters !== null) for (const resolve of this.stopWaiters) resolve();
    this.stopWaiters = null;
  }

  private drainToDeadLetters(): void {
    const mailbox: Mailbox = this;
    while (!mailbox.isEmpty) {
      const message = mailbox.take();
      this.undeliverable(message, mailbox.meta, 'stopped');
    }
  }
}
