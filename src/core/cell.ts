/**
 * ActorCell: the runtime side of one actor, and what its ref (as a Target) and its ctx (as a
 * ContextHost) reach: the actor's own API — spawn, ask, reply, deferReply, publish, watch, stop —
 * and death watch. One object per actor, built in layers: the run loop (run-loop.ts), the
 * incarnation lifecycle (incarnation.ts), then this.
 *
 * Lifecycle: starting (init in flight) → running → [restarting → starting → running]* →
 * stopping → stopped (or failed, when an escalation reached the root). The cell — and so its
 * ref, path and mailbox — survives restarts, its own and its parent's.
 */
import type { BreakerState } from '../resilience/breaker.js';
import { ActorStoppedError, ConfigError } from '../util/errors.js';
import type { AskOptions, Behavior, Context, DeferredReply, ExitReason, SpawnOptions, TellOptions } from './actor.js';
import type { PendingAsk } from './ask.js';
import { ActorContext, type ContextHost } from './context.js';
import { Incarnation } from './incarnation.js';
import type { MailboxConfig } from './mailbox.js';
import { ActorRef, type AskOptions as RefAskOptions, checkTellOptions, type Target } from './ref.js';
import { Status } from './delivery.js';
import type { Runtime } from './runtime.js';
import type { ChildSpec } from './spec.js';

export { CONTROL, EVENT, SIGNAL, Status, STATUS_NAMES } from './delivery.js';

export class ActorCell extends Incarnation implements Target, ContextHost {
  readonly ref: ActorRef;

  constructor(
    system: Runtime<ActorCell>,
    behavior: Behavior,
    parentCell: ActorCell | null,
    name: string,
    path: string,
    args: unknown,
    mailbox: MailboxConfig,
    spec: ChildSpec,
  ) {
    super(system as Runtime<never>, behavior, parentCell, name, path, args, mailbox, spec);
    this.ref = new ActorRef(this);
    this.ctx = new ActorContext(this, 0);
  }

  get self(): ActorRef {
    return this.ref;
  }

  get parent(): ActorRef | null {
    return this.parentCell === null ? null : this.parentCell.ref;
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

  snapshotNow(): Promise<number> {
    if (this.hooks === null) throw new ConfigError('snapshotNow', `${this.path} was spawned without a snapshot option`);
    return this.hooks.snapshotNow();
  }

  // ---- Target: what refs reach -----------------------------------------------------------

  /** Messages queued, plus the one being handled. */
  get load(): number {
    return this.busy ? this.size + 1 : this.size;
  }

  get breakerState(): BreakerState | undefined {
    return this.breaker?.state;
  }

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
    // An actor of another node: its target makes the ask (no local deadlock detection or admission).
    if (ref instanceof ActorRef && !(ref.target instanceof ActorCell)) return ref.target.askFromHere(message, options) as Promise<R>;
    let target: ActorCell;
    try {
      target = cellOf(ref);
    } catch (error) {
      return Promise.reject(error); // ask never throws
    }
    return this.runtime.ask(target, message, options, this) as Promise<R>;
  }

  /**
   * An ask made on behalf of `cause` (an ask this actor deferred) outside its handler — a
   * forwarder's later attempt — so that deadlock detection can follow it.
   */
  askFor<R = unknown>(ref: ActorRef, message: unknown, options: AskOptions | undefined, cause: PendingAsk): Promise<R> {
    let target: ActorCell;
    try {
      target = cellOf(ref);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.runtime.ask(target, message, options, this, cause) as Promise<R>;
  }

  /** `ctx.signal`: aborted once the caller of the ask being handled no longer waits. */
  get askSignal(): AbortSignal | undefined {
    const ask = this.askInHand;
    return ask === null ? undefined : ask.signal();
  }

  /** `ctx.deadline`: when (clock ms) the caller of the ask being handled stops waiting. */
  get askDeadline(): number | undefined {
    return this.askInHand?.deadline;
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
    // An actor of another node: its target tells this one when that node is gone.
    const remote = ref instanceof ActorRef ? ref.target : undefined;
    if (remote?.watchBy !== undefined) {
      remote.watchBy(this, ref);
      return;
    }
    const target = cellOf(ref);
    if (target.status >= Status.Stopped) {
      this.signal({ type: 'down', ref, reason: target.exitReason ?? 'normal' });
      return;
    }
    (target.life.watchers ??= new Set()).add(this);
    // (`this` is the final layer here: an ActorCell's lifecycle holds ActorCells)
    (this.life.watching ??= new Set()).add(target as this); // to leave the target's set when this one stops
  }

  unwatch(ref: ActorRef): void {
    const remote = ref instanceof ActorRef ? ref.target : undefined;
    if (remote?.unwatchBy !== undefined) {
      remote.unwatchBy(this);
      return;
    }
    const target = cellOf(ref);
    target.watchers?.delete(this);
    this.lifecycle?.watching?.delete(target as this);
  }

  stop(): void {
    if (this.status !== Status.Running && this.status !== Status.Starting) return;
    this.life.exitRequested = true;
    // Called outside a handler (a timer, say): exit now.
    if (this.system.current !== this && !this.busy && this.status === Status.Running) this.afterHandler();
  }

  // ---- Death watch and the end --------------------------------------------------------

  /** The runtime, typed for the last layer (the layers below type it by `this`). */
  private get runtime(): Runtime<ActorCell> {
    return this.system as Runtime<ActorCell>;
  }

  protected newContext(epoch: number): ActorContext {
    return new ActorContext(this, epoch);
  }

  /** Stopped for good: subscriptions end, watchers get `down`, watched actors forget this one. */
  protected stoppedForGood(reason: ExitReason): void {
    const life = this.life;
    const topics = life.topics;
    if (topics) for (const topic of [...topics]) this.system.unsubscribe(this.ref, topic);
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
  }
}

/** The local actor behind a ref (a ref to an actor elsewhere has none). */
export function cellOf(ref: ActorRef): ActorCell {
  const target = (ref as ActorRef | undefined)?.target;
  if (target instanceof ActorCell) return target;
  throw new ConfigError('ref', ref instanceof ActorRef ? `${ref.path} is not an actor of this process` : `must be an ActorRef (got ${String(ref)})`);
}

/** The actor whose handler got `ctx`: for the runtime's own behaviours (supervisors, pools). */
export function cellOfContext(ctx: Context): ActorCell {
  if (ctx instanceof ActorContext && ctx.cell instanceof ActorCell) return ctx.cell;
  throw new ConfigError('ctx', 'is not the context of an actor of this runtime');
}
