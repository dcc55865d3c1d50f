/**
 * ActorSystem: the composition root and public facade of one runtime instance. It owns the
 * scheduler, the actors' registry (top level and paths), dead letters and the logger, and wires
 * the parts that live in their own modules — asks (core/asking), pub/sub (core/pubsub),
 * supervision (supervision/), snapshots (persistence/) — through the seams each declares
 * (Runtime, SupervisionHost, SnapshotsHost, …). Several systems can live in one process.
 */
import type { Logger } from 'pino';
import { type AskOptions, type Behavior, type ExitReason, isBehavior, type PublishOptions, type SpawnOptions } from './core/actor.js';
import type { PendingAsk } from './core/ask.js';
import { Asks } from './core/asking.js';
import { ActorCell, cellOf, Status } from './core/cell.js';
import { DeadLetters } from './core/dead-letters.js';
import { DEFAULT_PRIORITY, LAST_LANE, type MailboxConfig, mailboxConfig } from './core/mailbox.js';
import { PubSub } from './core/pubsub.js';
import { ActorRef } from './core/ref.js';
import type { ChildSupervisor, Runtime } from './core/runtime.js';
import { Scheduler } from './core/scheduler.js';
import { CHILD_KEYS, type ChildSpec, childSpec } from './core/spec.js';
import { checkpoint, rollbackInTurn } from './persistence/checkpoint.js';
import { type SnapshotInfo, Snapshots } from './persistence/snapshots.js';
import { RuntimeCounters, treeMetrics } from './observability/metrics.js';
import type { MetricsServer, ServeMetricsOptions } from './observability/prometheus.js';
import type { ReplServer, ReplServerOptions } from './repl/server.js';
import { widenAutoTimeouts } from './resilience/timeout.js';
import { DEFAULT_SUPERVISION, type SupervisorSpec, type TreeSpec } from './supervision/spec.js';
import { type RootHost, Supervision, type SupervisionHost } from './supervision/supervision.js';
import { Management } from './supervision/management.js';
import { spawnNode, type TreeNode, treeView, validateTree } from './supervision/tree.js';
import type { Clock } from './util/clock.js';
import { ActorStoppedError, ConfigError, MailboxFullError, SystemStoppedError } from './util/errors.js';
import { createLogger, loggableError } from './util/logger.js';
import type { Mode } from './modes/modes-machine.js';
import { checkMode, Modes } from './modes/modes.js';
import { type Escalation, resolveSystemOptions, storeOpener, type SystemMetrics, type SystemOptions } from './system-options.js';
import { checkName, checkObject, knownKeys, positiveNumber } from './util/options.js';
import type { Cluster } from './remote/cluster.js';
import { checkNodeName, type ResolvedCluster } from './remote/options.js';

export type { MailboxView, TreeNode } from './supervision/tree.js';
export type { MetricsServer, ServeMetricsOptions } from './observability/prometheus.js';
export type { ReplServer, ReplServerOptions } from './repl/server.js';
export type { Escalation, SystemMetrics, SystemOptions } from './system-options.js';
export type { ClusterOptions } from './remote/options.js';

/** The lowest lane a non-essential actor may take messages from, by mode (see Runtime.maxLane). */
const MAX_LANE: Record<Mode, number> = { normal: LAST_LANE, preSafe: LAST_LANE, latency: LAST_LANE, safe: 3, recovery: 3, emergency: 0 };

const SPAWN_KEYS = ['name', 'parent', ...CHILD_KEYS];
/** How much the latency mode widens 'auto' timeouts. */
const LATENCY_MODE_WIDENING = 2;

/**
 * One runtime instance: its actors, their supervision, asks, pub/sub, dead letters and
 * snapshots. Several systems can live in one process.
 *
 * @example
 * ```ts
 * const system = await ActorSystem.start({ name: 'demo', store: false });
 * const counter = system.spawn(Counter, { name: 'counter' });   // path '/counter'
 * counter.tell({ type: 'add', n: 42 });
 * console.log(await counter.ask({ type: 'get' }, { timeoutMs: 1_000 }));   // 42
 * await system.shutdown();
 * ```
 */
export class ActorSystem implements Runtime<ActorCell>, SupervisionHost, RootHost {
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
  private readonly asks: Asks;
  private readonly pubsub: PubSub;
  /** @internal Top-level actors (children of the root supervisor), in start order. */
  readonly topLevel = new Map<string, ActorCell>();
  /** @internal */ readonly random: () => number;
  private readonly rootSupervision: Supervision;
  private readonly modes: Modes;
  /** @internal */ readonly snapshotting: Snapshots;
  private readonly escalationLog: Escalation[] = [];
  private readonly management: Management;
  private readonly counters = new RuntimeCounters();
  private readonly metricsServers = new Set<MetricsServer>();
  private nextId = 0;
  private live = 0;
  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private shuttingDown: Promise<void> | null = null;
  /** Who waits, on other nodes, for an actor here to stop for good. */
  private readonly stopListeners = new Map<ActorCell, Set<(reason: ExitReason) => void>>();
  /** This node's membership of a cluster (`cluster` option), once joined. */
  private cluster: Cluster | null = null;
  private readonly clusterOptions: ResolvedCluster | null;

  /**
   * Starts a system. Rejects with ConfigError for a bad option; a `store` given explicitly is
   * opened now, so a locked or foreign file fails the start (StoreLockedError,
   * NotASnapshotStoreError). The default store file is opened when the first snapshotting actor
   * starts.
   *
   * @example
   * ```ts
   * const system = await ActorSystem.start({ name: 'demo', store: ':memory:', logger: { level: 'silent' } });
   * ```
   */
  static async start(options: SystemOptions = {}): Promise<ActorSystem> {
    const system = new ActorSystem(options);
    if (system.clusterOptions !== null) {
      try {
        // Loaded only by a system that joins a cluster: the NATS client costs nothing otherwise.
        const { Cluster } = await import('./remote/cluster.js');
        system.cluster = await Cluster.join(system.clusterOptions, {
          name: system.name,
          log: system.log,
          deadLetters: system.deadLetters,
          askTimeoutMs: system.asks.timeoutMs,
          lookup: (path) => system.lookup(path),
          deliverRemoteEvent: (topic, data, priority, source) => system.pubsub.publish(topic, data, source === undefined ? { priority } : { priority, source }),
          remainingDeadline: () => {
            const deadline = system.current?.askDeadline;
            return deadline === undefined ? undefined : deadline - system.clock.now();
          },
          replicas: system.snapshotting,
          nodeUp: (node) => system.snapshotting.nodeUp(node),
          watchLocal: (path, onDown) => system.watchLocal(path, onDown),
        });
        system.snapshotting.connect(system.cluster.replicas);
      } catch (error) {
        await system.shutdown();
        throw error;
      }
    }
    return system;
  }

  private constructor(options: SystemOptions) {
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

  /**
   * Pins the system mode (an operator's decision, until `setMode('auto')` hands control back to
   * the health signals). A bad mode name is a ConfigError.
   *
   * @example
   * ```ts
   * system.setMode('safe', 'exchange maintenance');   // non-essential actors defer priorities 3–4
   * system.setMode('auto');
   * ```
   */
  setMode(mode: Mode | 'auto', reason = 'set by hand'): void {
    const checked = checkMode(mode);
    if (this.state === 'stopped') throw new SystemStoppedError(this.name);
    this.modes.set(checked, String(reason));
  }

  /** @internal See Runtime.maxLane. */
  maxLane = LAST_LANE;
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

  /** A new mode: published, told to every actor's onSignal, and applied to the run loop. */
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

  // ---- Actors --------------------------------------------------------------------------

  /**
   * Starts an actor at the top level (under the root supervisor: one-for-one, 3 restarts in 5 s),
   * or under `options.parent`, which supervises it. Its `init` runs at once (an async one holds
   * the mailbox until it settles); messages may be sent right away. Throws ConfigError for bad
   * options or a name already taken, SystemStoppedError after shutdown.
   *
   * @example
   * ```ts
   * const counter = system.spawn(Counter, { name: 'counter', mailbox: { capacity: 1_000 } });
   * const child = system.spawn(Counter, { name: 'shadow', parent: counter });   // '/counter/shadow'
   * ```
   */
  spawn<S, M, A>(behavior: Behavior<S, M, A>, options?: SpawnOptions<A>): ActorRef<M> {
    let parent: ActorCell | null = null;
    if (options !== undefined) {
      checkObject('spawn options', options);
      if (options.parent !== undefined) {
        if (!(options.parent instanceof ActorRef)) throw new ConfigError('parent', 'must be an ActorRef');
        parent = cellOf(options.parent);
      }
    }
    return this.spawnChild(behavior, options, parent) as ActorRef<M>;
  }

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

  /**
   * Starts a declared supervision tree at the top level and resolves with its root's ref once
   * every init in it has settled (children start one after another, as in OTP). The whole tree
   * is validated first: a bad option is a ConfigError before anything runs. A tree that fails
   * to start (its root gave up: an escalation) rejects with ActorStoppedError.
   *
   * @example
   * ```ts
   * const trading = await system.start(
   *   supervisor('trading', { strategy: 'rest-for-one', children: [child('decisions', DecisionLog), child('strategy', Strategy)] }),
   * );
   * ```
   */
  async start(tree: SupervisorSpec | TreeSpec): Promise<ActorRef> {
    if (this.state !== 'running') throw new SystemStoppedError(this.name);
    validateTree(tree);
    const existing = this.topLevel.get(tree.name);
    if (existing !== undefined && existing.status < Status.Stopped) {
      throw new ConfigError('name', `'${tree.name}' is already taken under /`);
    }
    const root = spawnNode(tree, null, this);
    if (!(await root.whenStarted())) {
      await root.requestStop('shutdown'); // already stopping: resolves once it has stopped
      const reason = root.exitReason;
      throw new ActorStoppedError(root.path, `tree ${root.path} failed to start`, {
        cause: typeof reason === 'object' && reason !== null ? reason.error : reason,
      });
    }
    return root.ref;
  }

  /**
   * Finds a live actor by path (`/trading/strategy`); a stopping actor is still found. Refs
   * survive restarts, so looking up once is enough.
   *
   * @example
   * ```ts
   * system.lookup('/trading/strategy')?.tell({ type: 'pause' });
   * ```
   */
  lookup(path: string): ActorRef | undefined {
    if (typeof path !== 'string' || !path.startsWith('/')) return undefined;
    const parts = path.split('/');
    let cell = this.topLevel.get(parts[1]!);
    for (let i = 2; cell !== undefined && i < parts.length; i++) cell = cell.children?.get(parts[i]!);
    return cell?.isAlive ? cell.ref : undefined;
  }

  /**
   * Stops an actor normally (children first, then terminate, within its `shutdownMs`); resolves
   * once it has stopped. Never followed by a restart.
   *
   * @example
   * ```ts
   * await system.stop(counter);
   * counter.alive;   // false
   * ```
   */
  stop(ref: ActorRef): Promise<void> {
    if (!(ref instanceof ActorRef)) return Promise.reject(new ConfigError('stop(ref)', 'must be an ActorRef'));
    return cellOf(ref).requestStop('normal');
  }

  /**
   * Stops every actor (top-level actors in reverse start order, each after its children), then
   * fails every ask still pending. Afterwards spawn throws, tell dead-letters, ask rejects.
   * Calling it again returns the same promise.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => void system.shutdown());
   * ```
   */
  shutdown(): Promise<void> {
    if (this.shuttingDown) return this.shuttingDown;
    this.state = 'stopping';
    return (this.shuttingDown = (async () => {
      for (const server of this.metricsServers) await server.close();
      for (const repl of [...this.repls]) await repl.close();
      for (const cell of [...this.topLevel.values()].reverse()) await cell.requestStop('shutdown');
      this.rootSupervision.cancelPending();
      this.modes.stop();
      this.state = 'stopped';
      this.snapshotting.close();
      this.asks.deadlines.failAll((ask) => ask.fail(new SystemStoppedError(this.name)));
      await this.cluster?.close();
      this.log.flush?.();
    })());
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

  // ---- Management by path (OTP's supervisor and sys: supervision/management.ts, README) ----

  /**
   * The state of the actor at `path` (`sys:get_state`): the object itself, not a copy — do not
   * mutate it. ActorStoppedError naming the path if no live actor is there; ConfigError for a bad path.
   * @example `system.getState('/trading/portfolio')`
   */
  getState(path: string): unknown {
    return this.management.getState(path);
  }

  /**
   * Sets the state of the actor at `path` to `fn(state)` in its own turn (`sys:replace_state`);
   * resolves the new state. `fn` throwing rejects, the state unchanged, no crash.
   * @example `await system.replaceState('/counter', (n: number) => 0)`
   */
  async replaceState<S = unknown>(path: string, fn: (state: S) => S): Promise<S> {
    return (await this.management.replaceState(path, fn as (state: unknown) => unknown)) as S;
  }

  /**
   * Restarts the actor at `path` through its supervisor's restart path (same ref and mailbox,
   * `actor.restarted`; siblings untouched, no backoff, not counted against intensity); a child
   * terminated by `terminateChild` is started again from its spec, as a new actor (a new ref).
   * @example `await system.restartChild('/trading/feed')`
   */
  async restartChild(path: string): Promise<void> {
    await this.management.restartChild(path);
  }

  /**
   * Stops the actor at `path` for good, not restarted, its spec kept: status 'stopped' in
   * `tree()` until `restartChild` or `deleteChild`. Pool workers: ConfigError.
   * @example `await system.terminateChild('/trading/feed')`
   */
  async terminateChild(path: string): Promise<void> {
    await this.management.terminateChild(path);
  }

  /**
   * Forgets a terminated child's spec: it leaves `tree()`, its name is free. ConfigError unless terminated.
   * @example `await system.deleteChild('/trading/feed')`
   */
  async deleteChild(path: string): Promise<void> {
    this.management.deleteChild(path);
  }

  // ---- Snapshots -----------------------------------------------------------------------

  /**
   * Snapshots one actor, or every actor spawned with `snapshot`/`partners`; resolves once
   * committed, with the seq of each snapshot by path. Bounded by `timeoutMs` (default the ask
   * timeout): an actor that cannot be snapshotted in time (a handler that does not finish) or at
   * all makes it reject with CheckpointError naming it — the other snapshots are committed.
   *
   * @example
   * ```ts
   * const seqs = await system.checkpoint();                  // { '/portfolio': 12, … }
   * await system.checkpoint('/portfolio', { timeoutMs: 500 });
   * ```
   */
  async checkpoint(path?: string, options: { timeoutMs?: number } = {}): Promise<Record<string, number>> {
    checkObject('checkpoint(options)', options);
    knownKeys('checkpoint(options)', options, ['timeoutMs']);
    const timeoutMs = options.timeoutMs === undefined ? this.asks.timeoutMs : positiveNumber('checkpoint(options).timeoutMs', options.timeoutMs);
    const cells: ActorCell[] = [];
    if (path !== undefined) cells.push(this.snapshottingCell(path));
    else {
      const walk = (cell: ActorCell) => {
        if (cell.hooks !== null && cell.isRunning) cells.push(cell);
        if (cell.children) for (const c of cell.children.values()) walk(c);
      };
      for (const cell of this.topLevel.values()) walk(cell);
    }
    return checkpoint(this.snapshotting, cells, timeoutMs, this.clock);
  }

  /**
   * Rolls one actor back to one of its own snapshots (`seq`, default the latest) while the rest
   * keep running. Applied in the actor's turn, after the handler in progress; TimeoutError if that
   * turn does not come within `timeoutMs` (default the ask timeout), and then nothing is applied.
   *
   * @example
   * ```ts
   * await system.restore('/portfolio', { seq: 12 });   // the rest keep running
   * ```
   */
  async restore(path: string, options: { seq?: number; timeoutMs?: number } = {}): Promise<void> {
    checkObject('restore(options)', options);
    knownKeys('restore(options)', options, ['seq', 'timeoutMs']);
    if (options.seq !== undefined && (!Number.isSafeInteger(options.seq) || options.seq < 0)) {
      throw new ConfigError('restore(options).seq', `must be a snapshot seq, a non-negative integer (got ${String(options.seq)})`);
    }
    const timeoutMs = options.timeoutMs === undefined ? this.asks.timeoutMs : positiveNumber('restore(options).timeoutMs', options.timeoutMs);
    await rollbackInTurn(this.snapshotting, this.snapshottingCell(path), options.seq, timeoutMs, this.clock);
  }

  /**
   * Metadata of the snapshots of one actor (own and replicas), newest first.
   *
   * @example
   * ```ts
   * const [latest] = system.snapshots('/portfolio');   // { seq, takenAt, size, version, source, holder? }
   * ```
   */
  snapshots(path: string): SnapshotInfo[] {
    return this.snapshotting.list(path);
  }

  private snapshottingCell(path: string): ActorCell {
    const ref = this.lookup(path);
    if (ref === undefined) throw new ConfigError('path', `no live actor at ${path}`);
    const cell = cellOf(ref);
    if (cell.hooks === null) throw new ConfigError('path', `${path} was spawned without a snapshot option`);
    return cell;
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
   * Escalations that reached the root supervisor, oldest first.
   *
   * @example
   * ```ts
   * if (system.escalations().length > 0) console.error('a subtree failed:', system.escalations());
   * ```
   */
  escalations(): Escalation[] {
    return [...this.escalationLog];
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

  // ---- Pub/sub -------------------------------------------------------------------------

  /**
   * Publishes to every subscriber whose pattern matches, except the source actor. Delivery is
   * asynchronous, at most once per subscriber.
   *
   * @example
   * ```ts
   * system.publish('market.BTC.trade', { price: 97_000, qty: 0.5 });
   * ```
   */
  publish(topic: string, data: unknown, options?: PublishOptions): void {
    this.pubsub.publish(topic, data, options);
    if (this.cluster !== null) {
      const source = options?.source;
      this.cluster.publish(
        topic,
        data,
        options?.priority ?? DEFAULT_PRIORITY,
        source instanceof ActorRef ? source.path : source === undefined ? undefined : String(source),
      );
    }
  }

  /** @internal */
  publishFrom(topic: string, data: unknown, source: ActorCell, priority: number): void {
    this.pubsub.publishFrom(topic, data, source, priority);
    if (this.cluster !== null) this.cluster.publish(topic, data, priority, source.path);
  }

  // ---- Cluster -------------------------------------------------------------------------

  /** This node's name in its cluster (`cluster.node`), or undefined without one. */
  get node(): string | undefined {
    return this.clusterOptions?.node;
  }

  /**
   * A ref to the actor at `path` on the node `node` of this system's cluster: `tell` and `ask`
   * as to a local actor (timeouts, priorities, signals, typed errors by `code`). An ask to a node
   * that is not connected fails at once with NodeDownError. ConfigError without a `cluster`, or
   * for a bad node name or path.
   *
   * @example
   * ```ts
   * const pricer = system.remote<PriceQuery>('b', '/pricing/pricer');
   * const quote = await pricer.ask({ symbol: 'BTC' }, { timeoutMs: 500 });
   * ```
   */
  remote<M = unknown>(node: string, path: string): ActorRef<M> {
    if (this.cluster === null)
      throw new ConfigError('cluster', this.state === 'running' ? 'remote refs need ActorSystem.start({ cluster })' : 'the system has shut down');
    checkNodeName('node', node);
    if (typeof path !== 'string' || !path.startsWith('/') || path.length < 2 || path.endsWith('/') || path.includes('//')) {
      throw new ConfigError('path', `must be an actor path such as '/trading/pricer' (got ${JSON.stringify(path)})`);
    }
    return new ActorRef<M>(this.cluster.target(node, path));
  }

  /**
   * Subscribes an actor (which must define onEvent) to a topic or pattern: `*` matches one
   * segment (or part of one), `**` any number of segments.
   *
   * @example
   * ```ts
   * system.subscribe(ticker, 'market.*.trade');
   * system.subscribe(monitor, 'breaker.**');
   * ```
   */
  subscribe(ref: ActorRef, topic: string): void {
    this.pubsub.subscribe(ref, topic);
  }

  /** Ends a subscription made with `subscribe`; false when there was none. */
  unsubscribe(ref: ActorRef, topic: string): boolean {
    return this.pubsub.unsubscribe(ref, topic);
  }

  // ---- Inspection ----------------------------------------------------------------------

  /**
   * The actor tree as plain data, top-level actors in start order: kind, status, restarts,
   * mailbox depth, strategy and breaker state of every actor.
   *
   * @example
   * ```ts
   * const failed = system.tree().filter((node) => node.status === 'failed').map((node) => node.path);
   * ```
   */
  tree(): TreeNode[] {
    return treeView(this.topLevel.values());
  }

  /**
   * The system's metrics, read now (see SystemMetrics; nothing is counted per message).
   * @example `const { messagesHandled, restarts, breakers, askLatencyMs, mode } = system.metrics()`
   */
  metrics(): SystemMetrics {
    const tree = treeMetrics(this.topLevel.values(), (path) => this.snapshotting.ageMs(path));
    return {
      actors: this.live,
      messagesHandled: this.scheduler.handled,
      asks: this.asks.made,
      asksPending: this.asks.deadlines.pending,
      runQueue: this.scheduler.depth,
      deadLetters: this.deadLetters.total,
      deadLettersByReason: this.deadLetters.counts(),
      refusals: this.counters.refusals,
      eventsPublished: this.pubsub.published,
      eventsUnrouted: this.pubsub.unrouted,
      restarts: { total: this.counters.restarts, byPath: tree.byPath },
      breakers: tree.breakers,
      askLatencyMs: tree.askLatencyMs,
      mode: this.mode,
      snapshots: { ...this.snapshotting.metrics },
      snapshotAgesMs: tree.snapshotAgesMs,
    };
  }

  /**
   * Serves `metrics()` as Prometheus text on `GET /metrics` (prom-client, a Registry per system,
   * `genesis_` names, computed at scrape time); 127.0.0.1 by default, port 0: a free one (`url`).
   * @example `const m = await system.serveMetrics({ port: 9464 }); await m.close()`
   */
  async serveMetrics(options?: ServeMetricsOptions): Promise<MetricsServer> {
    if (this.state !== 'running') throw new SystemStoppedError(this.name);
    const { serveMetrics } = await import('./observability/prometheus.js');
    const server = await serveMetrics(this.name, () => this.metrics(), options);
    const tracked: MetricsServer = {
      url: server.url,
      close: () => {
        this.metricsServers.delete(tracked);
        return server.close();
      },
    };
    this.metricsServers.add(tracked);
    return tracked;
  }

  /** `ActorSystem(name, mode, n actors)`: what `console.log(system)` and template strings show. */
  toString(): string {
    return `ActorSystem(${this.name}, ${this.mode}, ${this.live} actor${this.live === 1 ? '' : 's'}${this.state === 'running' ? '' : `, ${this.state}`})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---- REPL ----------------------------------------------------------------------------

  private readonly repls = new Set<ReplServer>();

  /**
   * Serves a REPL on this system (see README, "REPL") on the Unix socket `socket`, created with
   * mode 0600 — never TCP; `genesis attach <socket>` connects to it, several sessions at once. A
   * stale socket file is replaced; one a server listens on is refused (SocketInUseError).
   * `close()`, or shutdown, ends the sessions and removes the file.
   *
   * @example
   * ```ts
   * const repl = await system.serveRepl({ socket: '/run/trading/repl.sock' });
   * await repl.close();
   * ```
   */
  async serveRepl(options: ReplServerOptions): Promise<ReplServer> {
    if (this.state !== 'running') throw new SystemStoppedError(this.name);
    const { serveRepl } = await import('./repl/server.js');
    const served = await serveRepl(this, options, (closed) => this.repls.delete(closed));
    this.repls.add(served);
    if (this.state !== 'running') {
      await served.close(); // shut down meanwhile
      throw new SystemStoppedError(this.name);
    }
    return served;
  }
}

export type { ExitReason };
