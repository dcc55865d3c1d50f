/**
 * The seams between a cell and what hosts it. A cell sees its runtime, its supervisor and its
 * persistence only through these interfaces — the ActorSystem, supervision and persistence
 * implement them — so core depends on no layer above it. Generic over the cell type `C` so that
 * this file needs no import of the cell.
 */
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import type { MailboxFullError } from '../util/errors.js';
import type { Behavior, ExitReason } from './actor.js';
import type { PendingAsk } from './ask.js';
import type { DeadLetters } from './dead-letters.js';
import type { MailboxConfig } from './mailbox.js';
import type { ActorRef, AskOptions } from './ref.js';
import type { Scheduler } from './scheduler.js';
import type { ChildSpec } from './spec.js';
import type { SpawnOptions } from './actor.js';

/** What a cell needs of the system hosting it. */
export interface Runtime<C> {
  readonly clock: Clock;
  readonly log: Logger;
  /** Random source in [0, 1) (backoff jitter); seeded in tests. */
  readonly random: () => number;
  readonly scheduler: Scheduler;
  readonly deadLetters: DeadLetters;
  /** The system mode, as handlers read it through ctx.mode. */
  readonly mode: string;
  /** False once the system has begun to shut down. */
  readonly isRunning: boolean;
  /** The actor whose handler is running synchronously right now, if any. */
  current: C | null;
  /** An ask to `target`; `from` is the asking actor if any, `cause` the deferred ask it works for. */
  ask(target: C, message: unknown, options: AskOptions | undefined, from: C | null, cause?: PendingAsk | null): Promise<unknown>;
  /** Spawns an actor from user-given options (validated), under `parent` (null: top level). */
  spawnChild(behavior: Behavior, options: SpawnOptions | undefined, parent: C | null): ActorRef;
  /** Spawns an actor from resolved settings (a supervisor's or pool's child). */
  spawnCell(behavior: Behavior, name: string, args: unknown, mailbox: MailboxConfig, spec: ChildSpec, parent: C | null): C;
  lookup(path: string): ActorRef | undefined;
  publishFrom(topic: string, data: unknown, source: C, priority: number): void;
  subscribe(ref: ActorRef, topic: string): void;
  unsubscribe(ref: ActorRef, topic: string): boolean;
  /** A child exited on its own (a crash, or a normal exit): its supervisor decides what follows. */
  childExited(cell: C, reason: ExitReason, where?: string): void;
  /** The actor has stopped for good: it leaves its parent (a failed one stays, marked). */
  actorStopped(cell: C, failed: boolean, reason: ExitReason): void;
  /** The actor was restarted by its supervisor (health signals, the `actor.restarted` event). */
  restarted(cell: C): void;
  /** `supervisor` exceeded its restart intensity over `child` and fails upward (the `supervisor.escalated` event). */
  escalated(supervisor: C, child: C): void;
  /** The actor refused work as overloaded (admission control, a full mailbox): a health signal. */
  refused(cell: C): void;
  /**
   * The lowest-priority lane a non-essential actor may take messages from now (the system mode):
   * 5 (every lane) normally, 3 (priorities 0–2) in safe, 0 (system lane only) in emergency.
   */
  readonly maxLane: number;
  /** A non-essential actor stopped taking messages because of the mode; wake it when it allows. */
  parked(cell: C): void;
  mailboxFull(cell: C): MailboxFullError;
}

/** How a cell's children are supervised, as far as the cell itself needs to know. */
export interface ChildSupervisor<C> {
  readonly strategy: string;
  onChildExit(child: C, reason: ExitReason, where: string): void;
  /** The supervising incarnation is ending: restarts waiting for a backoff are cancelled. */
  cancelPending(): void;
}

/**
 * Persistence plugged into an actor's lifecycle: the cell calls these hooks at the points where
 * a snapshot may be taken, restored or abandoned; what that means is persistence's business.
 */
export interface LifecycleHooks {
  /**
   * Before init: work the restore needs first (copies fetched from other nodes). A promise holds
   * the mailbox, as an async init does, until it settles; it must never reject.
   */
  beforeInit(): Promise<void> | undefined;
  /** After every successful init: the state may be replaced by a restored one. */
  afterInit(): void;
  /** After every handler that ended normally. */
  afterHandler(): void;
  /** The handler failed or was killed: a snapshot it asked for will not come. */
  handlerAbandoned(): void;
  /** The actor stopped for good. */
  stopped(): void;
  /** ctx.snapshotNow(): resolves with the committed seq. */
  snapshotNow(): Promise<number>;
}
