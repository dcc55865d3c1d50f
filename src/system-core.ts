/**
 * SystemCore: what an ActorSystem is to its actors — the Runtime a cell sees (clock, log,
 * scheduler, dead letters, spawning, asks, exits), the host supervision and the root supervisor
 * need, and the health signals that drive the system modes. ActorSystem (system.ts) extends it
 * with the public API; the two files split the composition root by audience: cells and
 * supervisors here, users there.
 */
import type { Logger } from 'pino';
import { type AskOptions, type Behavior, type ExitReason, isBehavior, type SpawnOptions } from './core/actor.js';
import type { PendingAsk } from './core/ask.js';
import { Asks } from './core/asking.js';
import { ActorCell, cellOf, Status } from './core/cell.js';
import { DeadLetters } from './core/dead-letters.js';
import { LAST_LANE, type MailboxConfig, mailboxConfig } from './core/mailbox.js';
import { PubSub } from './core/pubsub.js';
import type { ActorRef } from './core/ref.js';
import type { ChildSupervisor, Runtime } from './core/runtime.js';
import { Scheduler } from './core/scheduler.js';
import { CHILD_KEYS, type ChildSpec, childSpec } from './core/spec.js';
import type { Mode } from './modes/modes-machine.js';
import { Modes } from './modes/modes.js';
import { RuntimeCounters } from './observability/metrics.js';
import { Snapshots } from './persistence/snapshots.js';
import type { Cluster } from './remote/cluster.js';
import type { ResolvedCluster } from './remote/options.js';
import { widenAutoTimeouts } from './resilience/timeout.js';
import { Management } from './supervision/management.js';
import { DEFAULT_SUPERVISION } from './supervision/spec.js';
import { type RootHost, Supervision, type SupervisionHost } from './supervision/supervision.js';
import { type Escalation, resolveSystemOptions, storeOpener, type SystemOptions } from './system-options.js';
import type { Clock } from './util/clock.js';
import { ActorStoppedError, ConfigError, MailboxFullError, SystemStoppedError } from './util/errors.js';
import { createLogger, loggableError } from './util/logger.js';
import { checkName, checkObject, knownKeys } from './util/options.js';

/** The lowest lane a non-essential actor may take messages from, by mode (see Runtime.maxLane). */
const MAX_LANE: Record<Mode, number> = { normal: LAST_LANE, preSafe: LAST_LANE, latency: LAST_LANE, safe: 3, recovery: 3, emergency: 0 };

const SPAWN_KEYS = ['name', 'parent', ...CHILD_KEYS];
/** How much the latency mode widens 'auto' timeouts. */
const LATENCY_MODE_WIDENING = 2;

export abstract class SystemCore implements Runtime<ActorCell>, SupervisionHost, RootHost {
  readonly name: string;
  /** The time source of every deadline and delay (`realClock` unless `clock` was given). */
  readonly clock: Clock;
  /** The system's pino logger; actors log through a child bound to their path (`ctx.log`). */
  readonly log: Logger;
  /** Messages that could not be delivered or handled: `list()` and `counts()`. */
  readonly deadLetters: DeadLetters;
  /** @internal */ readonly scheduler = new Scheduler();
  /** @internal The actor whose handler is running synchronously right now, if any. */
  current: ActorCell | null = null;
  /** @internal */
  protected readonly asks: Asks;
  /** @internal */
  protected readonly pubsub: PubSub;
  /** @internal Top-level actors (children of the root supervisor), in start order. */
  readonly topLevel = new Map<string, ActorCell>();
  /** @internal */ readonly random: () => number;
  /** @internal */
  protected readonly rootSupervision: Supervision;
  /** @internal */
  protected readonly modes: Modes;
  /** @internal */ readonly snapshotting: Snapshots;
  /** @internal */
  protected readonly escalationLog: Escalation[] = [];
  /** @internal */
  protected readonly management: Management;
  /** @internal */
  protected readonly counters = new RuntimeCounters();
  /** @internal */
  private nextId = 0;
  /** @internal */
  protected live = 0;
  /** @internal */
  protected state: 'running' | 'stopping' | 'stopped' = 'running';
  /** @internal Who waits, on other nodes, for an actor here to stop for good. */
  private readonly stopListeners = new Map<ActorCell, Set<(reason: ExitReason) => void>>();
  /** @internal This node's membership of a cluster (`cluster` option), once joined. */
  protected cluster: Cluster | null = null;
  /** @internal */
  protected readonly clusterOptions: ResolvedCluster | null;

  protected constructor(options: SystemOptions) {
    const resolved = resolveSystemOptions(options);
    this.name = resolved.name;
    this.clock = resolved.clock;
    this.log = createLogger(this.name, options.logger);
    this.deadLetters = new DeadLetters(resolved.deadLetterCapacity, this.log);
    this.random = resolved.random;
    this.asks = new Asks(this, resolved.askTimeoutMs);
    this.pubsub = new PubSub(this);
    this.rootSupervision = new Supervision(this, resolved.root, null, this);
    this.modes = new Modes(this.clock, resolved.modes, (from, to, reason) => this.modeChanged(from, to, reason));
    this.snapshotting = new Snapshots(this, storeOpener(options.store, options.durability));
    this.management = new Management(this, resolved.askTimeoutMs);
    this.clusterOptions = resolved.cluster;
    // An explicit store is opened now, so a bad path or a locked file fails the start.
    if (options.store !== undefined && options.store !== false) this.snapshotting.open();
  }

  /** The system mode (see README, "System modes"): driven by the health signals unless set by hand. */
  get mode(): Mode {
    return this.modes.mode;
  }

  /** @internal See Runtime.maxLane. */
  maxLane = LAST_LANE;
  /** @internal */
  private readonly parkedCells = new Set<ActorCell>();

  /** @internal */
  parked(cell: ActorCell): void {
    this.parkedCells.add(cell);
  }

  /** @internal */
  restarted(cell: ActorCell): void {
    this.counters.restarts++;
    this.modes.restarted();
    if (!this.isStopped) this.pubsub.publish('actor.restarted', { path: cell.path, restarts: cell.restarts });
  }

  /** @internal */
  refused(_cell: ActorCell): void {
    this.counters.refusals++;
    this.modes.refused();
  }

  /** @internal A supervisor in a tree gave up (the root's escalations: recordEscalation). */
  escalated(supervisor: ActorCell, child: ActorCell): void {
    if (!this.isStopped) this.pubsub.publish('supervisor.escalated', { path: child.path, supervisor: supervisor.path, decision: 'escalate' });
  }

  /** @internal */
  breakerChanged(cell: ActorCell, from: string, to: string): void {
    this.modes.breakerChanged(cell.spec.essential, from, to);
    this.pubsub.publish(`breaker.${to}`, { path: cell.path, from, to });
  }

  /** @internal A new mode: published, told to every actor's onSignal, and applied to the run loop. */
  private modeChanged(from: Mode, to: Mode, reason: string): void {
    this.log.warn({ from, to, reason }, `system mode: ${from} → ${to} (${reason})`);
    const before = this.maxLane;
    this.maxLane = MAX_LANE[to];
    // Slow but alive: resilient() 'auto' timeouts on this clock get more room (pools hedge: pool.ts).
    if (to === 'latency' || from === 'latency') widenAutoTimeouts(this.clock, to === 'latency' ? LATENCY_MODE_WIDENING : 1);
    if (this.maxLane > before) {
      // Parked actors resume, their messages in order.
      for (const cell of this.parkedCells) if (cell.isActive && !cell.isEmpty) cell.wake();
      this.parkedCells.clear();
    }
    if (this.isStopped) return;
    this.pubsub.publish('system.mode', { from, to, reason });
    const signal = { type: 'mode' as const, from, to, reason };
    const visit = (cell: ActorCell) => {
      if (cell.behavior.onSignal !== undefined) cell.signal(signal);
      if (cell.children !== null) for (const child of cell.children.values()) visit(child);
    };
    for (const cell of this.topLevel.values()) visit(cell);
  }

  /** True until `shutdown()` is called. */
  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** @internal Shut down: asks and publishing are refused. */
  get isStopped(): boolean {
    return this.state === 'stopped';
  }

  // ---- Spawning and exits ---------------------------------------------------------------

  /** @internal */
  spawnChild(behavior: Behavior, options: SpawnOptions | undefined, parent: ActorCell | null): ActorRef {
    if (this.state !== 'running') throw new SystemStoppedError(this.name);
    if (!isBehavior(behavior)) throw new ConfigError('spawn(behavior)', 'is not a behavior made by defineActor');
    if (options === undefined) return this.spawnCell(behavior, `$${++this.nextId}`, undefined, mailboxConfig(undefined), childSpec(undefined, ''), parent).ref;
    checkObject('spawn options', options);
    knownKeys('spawn options', options, SPAWN_KEYS);
    const name = options.name === undefined ? `$${++this.nextId}` : checkName('name', options.name);
    return this.spawnCell(behavior, name, options.args, mailboxConfig(options.mailbox), childSpec(options, ''), parent).ref;
  }

  /** @internal Spawns from resolved settings, taking up a child held across its parent's restart. */
  spawnCell(behavior: Behavior, name: string, args: unknown, mailbox: MailboxConfig, spec: ChildSpec, parent: ActorCell | null): ActorCell {
    if (parent !== null && parent.status >= Status.Stopping) throw new ActorStoppedError(parent.path, `cannot spawn under ${parent.path}: it is stopped`);
    const siblings = parent === null ? this.topLevel : (parent.children ??= new Map());
    const existing = siblings.get(name);
    if (existing !== undefined) {
      // A child held across its parent's restart is taken up again by the parent's next init:
      // same cell, so the same ref, path and mailbox (refs stay valid across a restart of any
      // supervisor above them). Another behavior under that name is a new actor.
      const adopting = existing.held && parent !== null && parent.status === Status.Starting;
      if (adopting && existing.behavior === behavior) {
        existing.adoptAgain(args, spec);
        return existing;
      }
      if (adopting) void existing.stopForGood('shutdown');
      else if (existing.status < Status.Stopped) {
        throw new ConfigError('name', `'${name}' is already taken under ${parent === null ? '/' : parent.path}`);
      }
      siblings.delete(name); // a failed, terminated (terminateChild) or replaced node gives way to a new one
    }
    const path = parent === null ? `/${name}` : `${parent.path}/${name}`;
    const cell = new ActorCell(this, behavior, parent, name, path, args, mailbox, spec);
    if (spec.snapshot !== null || spec.partners.length > 0) cell.hooks = this.snapshotting.attach(cell, spec.snapshot, spec.partners);
    siblings.set(name, cell);
    this.live++;
    cell.start();
    return cell;
  }

  /** @internal An actor crashed or exited on its own: its supervisor decides what follows. */
  childExited(cell: ActorCell, reason: ExitReason, where = 'exit'): void {
    this.supervisionOf(cell).onChildExit(cell, reason, where);
  }

  /** @internal The supervision `cell` is a child of. */
  supervisionOf(cell: ActorCell): ChildSupervisor<ActorCell> {
    const parent = cell.parentCell;
    return parent === null ? this.rootSupervision : (parent.supervision ??= new Supervision(this, DEFAULT_SUPERVISION, parent));
  }

  /** @internal An escalation reached the root: recorded, logged, published; the subtree is revived or given up. */
  recordEscalation(cell: ActorCell, reason: ExitReason, failed: boolean): void {
    this.escalationLog.push({ path: cell.path, reason, at: Date.now(), decision: failed ? 'failed' : 'revive' });
    this.modes.escalated(cell.path);
    if (!this.isStopped) this.pubsub.publish('supervisor.escalated', { path: cell.path, supervisor: '/', decision: failed ? 'failed' : 'revive' });
    this.log.error(
      { path: cell.path, err: typeof reason === 'object' ? loggableError(reason.error) : undefined, decision: failed ? 'fail-subtree' : 'revive' },
      failed
        ? `escalation reached the root: ${cell.path} never got through its init and is marked failed`
        : `escalation reached the root: ${cell.path} exceeded the restart intensity; revived after a backoff`,
    );
  }

  /**
   * @internal `onDown` once the actor at `path` stops for good (a watch from another node); the
   * returned function ends the watch. No live actor there: its exit reason, or a crash saying so.
   */
  watchLocal(path: string, onDown: (reason: ExitReason) => void): (() => void) | ExitReason {
    const ref = this.lookup(path);
    const cell = ref === undefined ? undefined : cellOf(ref);
    if (cell === undefined || cell.status >= Status.Stopped) {
      return cell?.exitReason ?? { error: new ActorStoppedError(path, `no actor at ${path} on node ${this.node ?? this.name}`) };
    }
    let listeners = this.stopListeners.get(cell);
    if (listeners === undefined) this.stopListeners.set(cell, (listeners = new Set()));
    const set = listeners;
    set.add(onDown);
    return () => set.delete(onDown);
  }

  /** @internal The actor has stopped for good: it leaves its parent (a failed one stays, marked). */
  actorStopped(cell: ActorCell, failed: boolean, reason: ExitReason): void {
    if (this.stopListeners.size > 0) {
      const listeners = this.stopListeners.get(cell);
      this.stopListeners.delete(cell);
      if (listeners !== undefined) for (const onDown of listeners) onDown(reason);
    }
    const siblings = cell.parentCell === null ? this.topLevel : cell.parentCell.children;
    if (!failed && !this.management.keeps(cell) && siblings?.get(cell.name) === cell) siblings.delete(cell.name);
    this.live--;
    this.parkedCells.delete(cell);
    // Its breaker stops with it: an open (or slow) one no longer weighs on the system's health.
    const state = cell.breaker?.state;
    if (state === 'open' || state === 'hedging') this.modes.breakerChanged(cell.spec.essential, state, 'stopped');
  }

  /** @internal */
  mailboxFull(cell: ActorCell): MailboxFullError {
    return new MailboxFullError(cell.path, cell.mailbox.config.capacity);
  }

  // ---- Ask -----------------------------------------------------------------------------

  /** @internal An ask to `target` (see Asks). */
  ask(target: ActorCell, message: unknown, options: AskOptions | undefined, from: ActorCell | null, cause: PendingAsk | null = null): Promise<unknown> {
    return this.asks.ask(target, message, options, from, cause);
  }

  /** @internal */
  publishFrom(topic: string, data: unknown, source: ActorCell, priority: number): void {
    this.pubsub.publishFrom(topic, data, source, priority);
    if (this.cluster !== null) this.cluster.publish(topic, data, priority, source.path);
  }

  // ---- The public API the runtime relies on (ActorSystem) ------------------------------

  abstract lookup(path: string): ActorRef | undefined;
  abstract subscribe(ref: ActorRef, topic: string): void;
  abstract unsubscribe(ref: ActorRef, topic: string): boolean;
  /** This node's name in its cluster, if it is in one. */
  abstract get node(): string | undefined;
}
