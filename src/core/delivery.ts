/**
 * An actor as messages reach it: its fields and liveness, and delivery into its mailbox —
 * admission control, overflow, dead letters, waking it to run. The run loop (run-loop.ts) that
 * handles what is delivered, the incarnation lifecycle (incarnation.ts) and the actor's own API
 * (cell.ts) build on it — one object per actor.
 */
import type { Logger } from 'pino';
import type { Breaker } from '../resilience/breaker.js';
import { ActorStoppedError } from '../util/errors.js';
import { type Behavior, type ExitReason, RUNTIME_BEHAVIORS, type Signal } from './actor.js';
import { type AskParty, PendingAsk } from './ask.js';
import type { ActorContext } from './context.js';
import type { DeadLetterReason } from './dead-letters.js';
import type { HandlerRun } from './handler-scope.js';
import { Lifecycle } from './lifecycle.js';
import { evicted, LAST_LANE, Mailbox, type MailboxConfig, Offer } from './mailbox.js';
import type { ChildSupervisor, LifecycleHooks, Runtime } from './runtime.js';
import type { Runnable } from './scheduler.js';
import type { ServiceTime } from './service-time.js';
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
export abstract class Delivery extends Mailbox implements Runnable, AskParty {
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
    parentCell: Delivery | null,
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

  /** Runs `fn` in this actor's turn (after the handler in progress); resolves once it ran. */
  runInTurn(fn: () => void): Promise<void> {
    if (this.status >= Status.Stopping) return Promise.reject(new ActorStoppedError(this.path));
    return new Promise((resolve, reject) => {
      const control: Control = { run: fn, done: (error) => (error === undefined ? resolve() : reject(error)) };
      this.pushSystem(control, CONTROL);
      this.wake();
    });
  }

  /** Called by the scheduler: handles up to `throughput` messages (see RunLoop). */
  abstract run(): number;
}
