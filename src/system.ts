/**
 * ActorSystem: owns the scheduler, the actors, the ask deadlines, pub/sub, dead letters and the
 * logger of one runtime instance. Several systems can live in one process.
 */
import type { Logger, LoggerOptions } from 'pino';
import { type AskOptions, type Behavior, type ExitReason, isBehavior, type PublishOptions, type SpawnOptions } from './core/actor.js';
import { AskDeadlines, PendingAsk } from './core/ask.js';
import { ActorCell, EVENT, Status, STATUS_NAMES } from './core/cell.js';
import { type Clock, realClock } from './util/clock.js';
import { DeadLetters } from './core/dead-letters.js';
import {
  ActorStoppedError,
  CircuitOpenError,
  ConfigError,
  DeadlockError,
  MailboxFullError,
  SystemStoppedError,
  TimeoutError,
} from './util/errors.js';
import { type ActorEvent, checkTopic, EventBus } from './core/events.js';
import { trackedRun } from './core/handler-scope.js';
import { createLogger } from './util/logger.js';
import { DEFAULT_PRIORITY } from './core/mailbox.js';
import { mailboxConfig } from './core/mailbox.js';
import { checkName, checkObject, knownKeys, positiveInteger, positiveNumber } from './util/options.js';
import { ActorRef, checkPriority } from './core/ref.js';
import { PoolActor, poolNodeSpec } from './supervision/pool.js';
import { Admission, Breaker, type BreakerState, type ResolvedBreakerOptions } from './resilience/breaker.js';
import { Scheduler } from './core/scheduler.js';
import {
  CHILD_KEYS,
  childSpec,
  type ChildSpec,
  DEFAULT_SUPERVISION,
  SupervisorActor,
  type SupervisorSpec,
  Supervision,
  type TreeSpec,
  validateTree,
} from './supervision/supervisor.js';
import type { MailboxConfig } from './core/mailbox.js';
import type { SnapshotStore } from './persistence/snapshot-store.js';
import { type SnapshotInfo, type SnapshotMetrics, Snapshots } from './persistence/snapshots.js';
import { SqliteSnapshotStore } from './persistence/sqlite-store.js';

export interface SystemOptions {
  name?: string;
  /**
   * Where snapshots go: a SQLite file path (default 'data/genesis.db', opened when the first
   * snapshotting actor starts), ':memory:', a SnapshotStore, or false (no snapshots).
   */
  store?: string | false | SnapshotStore;
  /** SQLite durability: 'process' (survives a process crash, default) or 'power' (fsync). */
  durability?: 'process' | 'power';
  /** A pino logger to use (a child is taken), or pino options for a new one. */
  logger?: Logger | LoggerOptions;
  /** Time source for deadlines and delays; a SimulatedClock in tests. */
  clock?: Clock;
  /** System-mode settings (arrive with modes). */
  modes?: object;
  /** Default ask timeout (ms), 5000. */
  askTimeoutMs?: number;
  /** How many dead letters the ring keeps, 1000. */
  deadLetterCapacity?: number;
  /** Random source for backoff jitter (default Math.random); seed it in tests. */
  random?: () => number;
}

/** An escalation that reached the root supervisor: the subtree was stopped and marked failed. */
export interface Escalation {
  path: string;
  reason: ExitReason;
  at: number;
}

export interface MailboxView {
  size: number;
  system: number;
  byPriority: number[];
}

export interface TreeNode {
  path: string;
  name: string;
  kind: 'supervisor' | 'worker' | 'pool';
  status: (typeof STATUS_NAMES)[number];
  restarts: number;
  mailbox: MailboxView;
  /** The supervision strategy, for supervisors and actors with children. */
  strategy?: string;
  /** The state of the actor's breaker, once it has been asked. */
  breaker?: BreakerState;
  children: TreeNode[];
}

export interface SystemMetrics {
  actors: number;
  messagesHandled: number;
  asksPending: number;
  runQueue: number;
  deadLetters: number;
  eventsPublished: number;
  eventsUnrouted: number;
  snapshots: SnapshotMetrics;
}

/** How the system opens its snapshot store, from the `store` option. */
function storeOpener(store: SystemOptions['store'], durability: SystemOptions['durability']): (() => SnapshotStore) | null {
  if (durability !== undefined && durability !== 'process' && durability !== 'power') {
    throw new ConfigError('durability', `must be 'process' or 'power' (got ${String(durability)})`);
  }
  if (store === false) return null;
  if (store === undefined || typeof store === 'string') {
    const path = store ?? DEFAULT_STORE;
    return () => new SqliteSnapshotStore({ path, durability: durability ?? 'process' });
  }
  if (typeof store === 'object' && store !== null && typeof (store as SnapshotStore).writeBatch === 'function') return () => store;
  throw new ConfigError('store', 'must be a file path, \':memory:\', a SnapshotStore or false');
}

const SYSTEM_KEYS = ['name', 'store', 'durability', 'logger', 'clock', 'modes', 'askTimeoutMs', 'deadLetterCapacity', 'random'];
const DEFAULT_STORE = 'data/genesis.db';
const SPAWN_KEYS = ['name', 'parent', ...CHILD_KEYS];
const ASK_KEYS = ['timeoutMs', 'priority', 'signal'];

export class ActorSystem {
  readonly name: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly deadLetters: DeadLetters;
  /** @internal */ readonly scheduler = new Scheduler();
  /** @internal The actor whose handler is running synchronously right now, if any. */
  current: ActorCell | null = null;
  /** @internal */ readonly deadlines: AskDeadlines;
  private readonly bus = new EventBus<ActorCell>();
  /** @internal Top-level actors (children of the root supervisor), in start order. */
  readonly topLevel = new Map<string, ActorCell>();
  /** @internal */ readonly random: () => number;
  private readonly rootSupervision: Supervision;
  /** @internal */ readonly snapshotting: Snapshots;
  private readonly escalationLog: Escalation[] = [];
  private readonly askTimeoutMs: number;
  private nextId = 0;
  private live = 0;
  private published = 0;
  private unrouted = 0;
  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private shuttingDown: Promise<void> | null = null;

  static async start(options: SystemOptions = {}): Promise<ActorSystem> {
    return new ActorSystem(options);
  }

  private constructor(options: SystemOptions) {
    checkObject('ActorSystem.start(options)', options);
    knownKeys('ActorSystem.start(options)', options, SYSTEM_KEYS);
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
      throw new ConfigError('name', `must be a non-empty string (got ${String(options.name)})`);
    }
    this.name = options.name ?? 'genesis';
    const clock = options.clock ?? realClock;
    if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
      throw new ConfigError('clock', 'must have now(), setTimeout() and clearTimeout()');
    }
    this.clock = clock;
    this.askTimeoutMs = options.askTimeoutMs === undefined ? 5000 : positiveNumber('askTimeoutMs', options.askTimeoutMs);
    this.log = createLogger(this.name, options.logger);
    this.deadLetters = new DeadLetters(
      options.deadLetterCapacity === undefined ? 1000 : positiveInteger('deadLetterCapacity', options.deadLetterCapacity),
      this.log,
    );
    this.deadlines = new AskDeadlines(clock, (ask, timeoutMs) => ask.fail(new TimeoutError(ask.path, timeoutMs)));
    if (options.random !== undefined && typeof options.random !== 'function') throw new ConfigError('random', 'must be a function returning [0, 1)');
    if (options.modes !== undefined) {
      // Nothing about modes is configurable yet: refuse anything but an empty object, so that a
      // threshold given today is not silently ignored.
      checkObject('modes', options.modes);
      knownKeys('modes', options.modes, []);
    }
    this.random = options.random ?? Math.random;
    this.rootSupervision = new Supervision(this, DEFAULT_SUPERVISION, null);
    this.snapshotting = new Snapshots(this, storeOpener(options.store, options.durability));
    // An explicit store is opened now, so a bad path or a locked file fails the start.
    if (options.store !== undefined && options.store !== false) this.snapshotting.open();
  }

  /** The system mode; 'normal' until modes escalate it. */
  get mode(): string {
    return 'normal';
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  // ---- Actors --------------------------------------------------------------------------

  /** Starts an actor at the top level, or under `options.parent`. */
  spawn<S, M, A>(behavior: Behavior<S, M, A>, options?: SpawnOptions<A>): ActorRef<M> {
    let parent: ActorCell | null = null;
    if (options !== undefined) {
      checkObject('spawn options', options);
      if (options.parent !== undefined) {
        if (!(options.parent instanceof ActorRef)) throw new ConfigError('parent', 'must be an ActorRef');
        parent = options.parent.cell;
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

  /** @internal Starts a node of a declared tree under `parent` (already validated). */
  spawnNode(node: TreeSpec, parent: ActorCell | null): ActorCell {
    if (node.kind === 'worker') {
      return this.spawnCell(node.behavior, node.name, node.options.args, mailboxConfig(node.options.mailbox), childSpec(node.options, ''), parent);
    }
    // A supervisor or pool node: its own spec is its restart and shutdown (and a pool's own
    // breaker, `poolBreaker`); a pool's other options (breaker, mailbox, …) are its workers'.
    const { restart, shutdownMs } = node.options;
    const behavior = node.kind === 'pool' ? PoolActor : SupervisorActor;
    const spec = node.kind === 'pool' ? poolNodeSpec(node.options) : childSpec({ restart, shutdownMs }, '');
    return this.spawnCell(behavior, node.name, node, mailboxConfig(undefined), spec, parent);
  }

  private spawnCell(behavior: Behavior, name: string, args: unknown, mailbox: MailboxConfig, spec: ChildSpec, parent: ActorCell | null): ActorCell {
    if (parent !== null && parent.status >= Status.Stopping) throw new ActorStoppedError(parent.path, `cannot spawn under ${parent.path}: it is stopped`);
    const siblings = parent === null ? this.topLevel : (parent.children ??= new Map());
    const existing = siblings.get(name);
    if (existing !== undefined) {
      // A child held across its parent's restart is taken up again: same cell, so the same ref,
      // path and mailbox (refs stay valid across a restart of any supervisor above them).
      if (existing.held && existing.behavior === behavior) {
        existing.adoptAgain(args, spec);
        return existing;
      }
      if (existing.held) void existing.stopForGood('shutdown'); // another behavior: a new actor
      else if (existing.status !== Status.Failed) {
        throw new ConfigError('name', `'${name}' is already taken under ${parent === null ? '/' : parent.path}`);
      }
      siblings.delete(name); // a failed (or replaced) node gives way to a new one
    }
    const path = parent === null ? '/' + name : parent.path + '/' + name;
    const cell = new ActorCell(this, behavior, parent, name, path, args, mailbox, spec);
    if (spec.snapshot !== null || spec.partners.length > 0) cell.snap = this.snapshotting.attach(cell, spec.snapshot, spec.partners);
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
   */
  async start(tree: SupervisorSpec | TreeSpec): Promise<ActorRef> {
    if (this.state !== 'running') throw new SystemStoppedError(this.name);
    validateTree(tree);
    const existing = this.topLevel.get(tree.name);
    if (existing !== undefined && existing.status !== Status.Failed) {
      throw new ConfigError('name', `'${tree.name}' is already taken under /`);
    }
    const root = this.spawnNode(tree, null);
    if (!(await root.whenStarted())) {
      await root.requestStop('shutdown'); // already stopping: resolves once it has stopped
      const reason = root.exitReason;
      throw new ActorStoppedError(root.path, `tree ${root.path} failed to start`, {
        cause: typeof reason === 'object' && reason !== null ? reason.error : reason,
      });
    }
    return root.ref;
  }

  /** Finds a live actor by path (`/trading/strategy`). */
  lookup(path: string): ActorRef | undefined {
    if (typeof path !== 'string' || !path.startsWith('/')) return undefined;
    const parts = path.split('/');
    let cell = this.topLevel.get(parts[1]!);
    for (let i = 2; cell !== undefined && i < parts.length; i++) cell = cell.children?.get(parts[i]!);
    return cell !== undefined && cell.isAlive ? cell.ref : undefined;
  }

  /** Stops an actor normally (children first, then terminate); resolves once it has stopped. */
  stop(ref: ActorRef): Promise<void> {
    if (!(ref instanceof ActorRef)) return Promise.reject(new ConfigError('stop(ref)', 'must be an ActorRef'));
    return ref.cell.requestStop('normal');
  }

  /**
   * Stops every actor (top-level actors in reverse start order, each after its children), then
   * fails every ask still pending. Afterwards spawn throws, tell dead-letters, ask rejects.
   */
  shutdown(): Promise<void> {
    if (this.shuttingDown) return this.shuttingDown;
    this.state = 'stopping';
    return (this.shuttingDown = (async () => {
      for (const cell of [...this.topLevel.values()].reverse()) await cell.requestStop('shutdown');
      this.rootSupervision.cancelPending();
      this.state = 'stopped';
      this.snapshotting.close();
      this.deadlines.failAll(() => new SystemStoppedError(this.name));
      this.log.flush?.();
    })());
  }

  /** @internal An actor crashed or exited on its own: its supervisor decides what follows. */
  childExited(cell: ActorCell, reason: ExitReason, where = 'exit'): void {
    const parent = cell.parentCell;
    const supervision = parent === null ? this.rootSupervision : (parent.supervision ??= new Supervision(this, DEFAULT_SUPERVISION, parent));
    supervision.onChildExit(cell, reason, where);
  }

  /** @internal Run after every init: the state becomes the newest valid snapshot, if any. */
  restoreState(cell: ActorCell): void {
    if (cell.snap !== null) this.snapshotting.restore(cell);
  }

  // ---- Snapshots -----------------------------------------------------------------------

  /**
   * Snapshots one actor, or every actor spawned with `snapshot`/`partners`; resolves once
   * committed, with the seq of each snapshot by path. Bounded by `timeoutMs` (default the ask
   * timeout): an actor that cannot be snapshotted in time (a handler that does not finish) or at
   * all makes it reject with CheckpointError naming it — the other snapshots are committed.
   */
  async checkpoint(path?: string, options: { timeoutMs?: number } = {}): Promise<Record<string, number>> {
    checkObject('checkpoint(options)', options);
    knownKeys('checkpoint(options)', options, ['timeoutMs']);
    const timeoutMs = options.timeoutMs === undefined ? this.askTimeoutMs : positiveNumber('checkpoint(options).timeoutMs', options.timeoutMs);
    const cells: ActorCell[] = [];
    if (path !== undefined) cells.push(this.snapshottingCell(path));
    else {
      const walk = (cell: ActorCell) => {
        if (cell.snap !== null && cell.isRunning) cells.push(cell);
        if (cell.children) for (const c of cell.children.values()) walk(c);
      };
      for (const cell of this.topLevel.values()) walk(cell);
    }
    return this.snapshotting.checkpoint(cells, timeoutMs);
  }

  /**
   * Rolls one actor back to one of its own snapshots (`seq`, default the latest) while the rest
   * keep running. Applied in the actor's turn, after the handler in progress; TimeoutError if that
   * turn does not come within `timeoutMs` (default the ask timeout), and then nothing is applied.
   */
  async restore(path: string, options: { seq?: number; timeoutMs?: number } = {}): Promise<void> {
    checkObject('restore(options)', options);
    knownKeys('restore(options)', options, ['seq', 'timeoutMs']);
    if (options.seq !== undefined && (!Number.isSafeInteger(options.seq) || options.seq < 0)) {
      throw new ConfigError('restore(options).seq', `must be a snapshot seq, a non-negative integer (got ${String(options.seq)})`);
    }
    const timeoutMs = options.timeoutMs === undefined ? this.askTimeoutMs : positiveNumber('restore(options).timeoutMs', options.timeoutMs);
    await this.snapshotting.rollbackInTurn(this.snapshottingCell(path), options.seq, timeoutMs);
  }

  /** Metadata of the snapshots of one actor (own and replicas), newest first. */
  snapshots(path: string): SnapshotInfo[] {
    return this.snapshotting.list(path);
  }

  private snapshottingCell(path: string): ActorCell {
    const cell = this.lookup(path)?.cell;
    if (cell === undefined) throw new ConfigError('path', `no live actor at ${path}`);
    if (cell.snap === null) throw new ConfigError('path', `${path} was spawned without a snapshot option`);
    return cell;
  }

  /** @internal An escalation reached the root: recorded, logged; the subtree is marked failed. */
  recordEscalation(cell: ActorCell, reason: ExitReason): void {
    this.escalationLog.push({ path: cell.path, reason, at: Date.now() });
    this.log.error(
      { path: cell.path, err: typeof reason === 'object' ? reason.error : undefined, decision: 'fail-subtree' },
      `escalation reached the root: ${cell.path} exceeded the restart intensity and is marked failed`,
    );
  }

  /** Escalations that reached the root supervisor, oldest first. */
  escalations(): Escalation[] {
    return [...this.escalationLog];
  }

  /** @internal The actor has stopped for good: it leaves its parent (a failed one stays, marked). */
  actorStopped(cell: ActorCell, failed: boolean): void {
    const siblings = cell.parentCell === null ? this.topLevel : cell.parentCell.children;
    if (!failed && siblings?.get(cell.name) === cell) siblings.delete(cell.name);
    this.live--;
  }

  /** @internal */
  mailboxFull(cell: ActorCell): MailboxFullError {
    return new MailboxFullError(cell.path, cell.mailbox.config.capacity);
  }

  // ---- Ask -----------------------------------------------------------------------------

  /**
   * @internal `from` is the asking actor when the ask comes from inside one (ref.ask passes the
   * actor whose handler is running, if any); `cause` the deferred ask it is made on behalf of,
   * for a forwarder's asks made outside its handler. Never throws: every failure is a rejection.
   */
  ask(target: ActorCell, message: unknown, options: AskOptions | undefined, from: ActorCell | null, cause: PendingAsk | null = null): Promise<unknown> {
    try {
      return this.askOrThrow(target, message, options, from, cause);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private askOrThrow(target: ActorCell, message: unknown, options: AskOptions | undefined, from: ActorCell | null, cause: PendingAsk | null): Promise<unknown> {
    if (this.state === 'stopped') throw new SystemStoppedError(this.name);
    let timeoutMs = this.askTimeoutMs;
    let priority = DEFAULT_PRIORITY;
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      checkObject('ask options', options);
      knownKeys('ask options', options, ASK_KEYS);
      if (options.timeoutMs !== undefined) timeoutMs = positiveNumber('timeoutMs', options.timeoutMs);
      priority = checkPriority(options);
      signal = options.signal;
      if (signal !== undefined) {
        if (!isAbortSignal(signal)) throw new ConfigError('signal', 'must be an AbortSignal');
        if (signal.aborted) return Promise.reject(signal.reason);
      }
    }
    // After an await inside an async handler there is no synchronous caller: its tracked run says
    // which actor is asking.
    if (from === null) {
      const run = trackedRun();
      if (run !== undefined && (run.owner as ActorCell).ownsRun(run)) from = run.owner as ActorCell;
    }
    // Only an asker inside its handler holds its mailbox; asks outside it (a timer, a forwarder's
    // later attempt) block nothing of the asker's, though they may work for a deferred ask.
    const holding = from !== null && from.inHandler;
    if (from !== null && holding) cause ??= from.askInHand;
    if (from !== null && (holding || cause !== null)) {
      const cycle = findCycle(target, from, holding, cause);
      if (cycle !== null) throw new DeadlockError(target.path, cycle);
    }
    let breaker: Breaker | null = null;
    let admission: Admission = Admission.pass;
    const breakerOptions = target.spec.breaker;
    if (breakerOptions !== false) {
      breaker = target.breaker ??= this.createBreaker(target, breakerOptions);
      admission = breaker.acquire();
      if (admission === Admission.reject) throw new CircuitOpenError(target.path);
      if (admission === Admission.fallback) {
        const fallback = target.spec.fallback;
        return Promise.resolve(typeof fallback === 'function' ? fallback(message) : fallback);
      }
    }
    const ask = new PendingAsk(this.deadlines, target.path, from, target);
    ask.breaker = breaker;
    ask.admission = admission;
    this.deadlines.add(ask, timeoutMs);
    if (holding) (ask.waitList = from!.waitingOn ??= []).push(ask);
    if (cause !== null && !cause.settled) {
      ask.cause = cause;
      (cause.dependents ??= []).push(ask);
    }
    if (signal !== undefined) {
      // The caller giving up ends the ask without counting against the target.
      const onAbort = () => ask.abandon(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      ask.onSettle = () => signal.removeEventListener('abort', onAbort);
    }
    target.deliver(priority, message, ask);
    return ask.promise;
  }

  /** The breaker of an actor, on its first ask; its transitions go to the bus as `breaker.<state>`. */
  private createBreaker(cell: ActorCell, options: ResolvedBreakerOptions): Breaker {
    return new Breaker(options, {
      clock: this.clock,
      path: cell.path,
      random: this.random,
      onTransition: (from, to) => {
        cell.log.info({ from, to }, `breaker of ${cell.path}: ${from} → ${to}`);
        if (this.state !== 'stopped') this.publish(`breaker.${to}`, { path: cell.path, from, to });
      },
    });
  }

  // ---- Pub/sub -------------------------------------------------------------------------

  /** Publishes to every subscriber whose pattern matches, except the source actor. */
  publish(topic: string, data: unknown, options?: PublishOptions): void {
    let source: ActorCell | null = null;
    let sourcePath: string | undefined;
    let priority = DEFAULT_PRIORITY;
    if (options !== undefined) {
      checkObject('publish options', options);
      knownKeys('publish options', options, ['source', 'priority']);
      priority = checkPriority(options);
      if (options.source instanceof ActorRef) {
        source = options.source.cell;
        sourcePath = source.path;
      } else if (options.source !== undefined) {
        sourcePath = String(options.source);
        source = this.lookup(sourcePath)?.cell ?? null;
      }
    }
    this.deliverEvent(topic, data, source, sourcePath, priority);
  }

  /** @internal */
  publishFrom(topic: string, data: unknown, source: ActorCell, priority: number): void {
    this.deliverEvent(topic, data, source, source.path, priority);
  }

  private deliverEvent(topic: string, data: unknown, source: ActorCell | null, sourcePath: string | undefined, priority: number): void {
    checkTopic(topic);
    if (topic.includes('*')) throw new ConfigError('topic', `cannot publish to a pattern (got "${topic}")`);
    if (this.state === 'stopped') throw new SystemStoppedError(this.name);
    this.published++;
    const event: ActorEvent = sourcePath === undefined ? { topic, data } : { topic, data, source: sourcePath };
    let delivered = 0;
    for (const cell of this.bus.match(topic)) {
      if (cell === source) continue; // never back to the publisher
      cell.deliver(priority, event, EVENT);
      delivered++;
    }
    if (delivered === 0) this.unrouted++;
  }

  /** Subscribes an actor (which must define onEvent) to a topic or pattern. */
  subscribe(ref: ActorRef, topic: string): void {
    if (!(ref instanceof ActorRef)) throw new ConfigError('subscribe(ref)', 'must be an ActorRef');
    checkTopic(topic);
    const cell = ref.cell;
    if (cell.behavior.onEvent === undefined) throw new ConfigError('subscribe', `${cell.path} has no onEvent handler`);
    if (!cell.isActive) return;
    const topics = cell.topics;
    if (topics.includes(topic)) return;
    topics.push(topic);
    this.bus.subscribe(cell, topic);
  }

  unsubscribe(ref: ActorRef, topic: string): boolean {
    if (!(ref instanceof ActorRef)) throw new ConfigError('unsubscribe(ref)', 'must be an ActorRef');
    if (typeof topic !== 'string') throw new ConfigError('topic', `must be a string (got ${typeof topic})`);
    const cell = ref.cell;
    const topics = cell.topics;
    const i = topics.indexOf(topic);
    if (i < 0) return false;
    topics.splice(i, 1);
    return this.bus.unsubscribe(cell, topic);
  }

  // ---- Inspection ----------------------------------------------------------------------

  /** The actor tree as plain data, top-level actors in start order. */
  tree(): TreeNode[] {
    const node = (cell: ActorCell): TreeNode => {
      const depths = cell.mailbox.depths();
      const isSupervisor = cell.behavior === SupervisorActor;
      const view: TreeNode = {
        path: cell.path,
        name: cell.name,
        kind: isSupervisor ? 'supervisor' : cell.behavior === PoolActor ? 'pool' : 'worker',
        status: STATUS_NAMES[cell.status],
        restarts: cell.restarts,
        mailbox: { size: cell.mailbox.size, system: depths.system, byPriority: depths.byPriority },
        children: cell.children ? [...cell.children.values()].map(node) : [],
      };
      if (isSupervisor || view.children.length > 0) view.strategy = (cell.supervision?.config ?? DEFAULT_SUPERVISION).strategy;
      if (cell.breaker !== null) view.breaker = cell.breaker.state;
      return view;
    };
    return [...this.topLevel.values()].map(node);
  }

  metrics(): SystemMetrics {
    return {
      actors: this.live,
      messagesHandled: this.scheduler.handled,
      asksPending: this.deadlines.pending,
      runQueue: this.scheduler.depth,
      deadLetters: this.deadLetters.total,
      eventsPublished: this.published,
      eventsUnrouted: this.unrouted,
      snapshots: { ...this.snapshotting.metrics },
    };
  }
}

export type { ExitReason };

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}

/**
 * Would a new ask from `from` to `target` close a cycle of asks waiting on each other? The new
 * ask waits on whatever `target` is waiting on, if `target` holds its mailbox (a handler in
 * flight). A pending ask waits on its target in the same way — or, once its target deferred it,
 * on the asks made on its behalf. Waiting on `from` itself (when the new ask is made inside
 * `from`'s handler) or on `cause` (the deferred ask it works for) is a deadlock.
 * Returns the actors on the cycle by path, or null.
 */
function findCycle(target: ActorCell, from: ActorCell, holding: boolean, cause: PendingAsk | null): string[] | null {
  if (target === from && holding) return [from.path, from.path];
  // A target free to take the ask blocks nothing: most asks end here, allocation-free.
  if (!target.inHandler) return null;
  const trail: string[] = [from.path];
  const seen = new Set<object>();
  const visitCell = (cell: ActorCell): boolean => {
    trail.push(cell.path);
    if (cell === from && holding) return true;
    if (!seen.has(cell) && cell.inHandler) {
      seen.add(cell);
      const waiting = cell.waitingOn;
      if (waiting !== null) for (const ask of waiting) if (visitAsk(ask)) return true;
    }
    trail.pop();
    return false;
  };
  const visitAsk = (ask: PendingAsk): boolean => {
    if (ask === cause) {
      trail.push(from.path); // the deferred ask `from` works for: waiting on it is waiting on `from`
      return true;
    }
    if (ask.settled || seen.has(ask)) return false;
    seen.add(ask);
    if (ask.deferredBy === null) return visitCell(ask.to as ActorCell);
    const dependents = ask.dependents;
    if (dependents !== null) for (const next of dependents) if (visitAsk(next)) return true;
    return false;
  };
  return visitCell(target) ? trail : null;
}