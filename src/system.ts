/**
 * ActorSystem: the public API of one runtime instance. What its actors and supervisors see of it
 * — the Runtime, the supervision host, the health signals — is SystemCore (system-core.ts), which
 * it extends. Together they own the scheduler, the actors' registry, dead letters and the logger,
 * and wire the parts that live in their own modules — asks (core/asking), pub/sub (core/pubsub),
 * supervision (supervision/), snapshots (persistence/), the cluster (remote/) — through the seams
 * each declares (Runtime, SupervisionHost, SnapshotsHost, ClusterHost, …). Several systems can
 * live in one process.
 */
import type { Behavior, ExitReason, PublishOptions, SpawnOptions } from './core/actor.js';
import { type ActorCell, cellOf, Status } from './core/cell.js';
import { DEFAULT_PRIORITY } from './core/mailbox.js';
import { ActorRef } from './core/ref.js';
import type { Mode } from './modes/modes-machine.js';
import { checkMode } from './modes/modes.js';
import { treeMetrics } from './observability/metrics.js';
import type { MetricsServer, ServeMetricsOptions } from './observability/prometheus.js';
import { checkpoint, rollbackInTurn } from './persistence/checkpoint.js';
import type { SnapshotInfo } from './persistence/snapshots.js';
import { checkNodeName } from './remote/options.js';
import type { ReplServer, ReplServerOptions } from './repl/server.js';
import type { SupervisorSpec, TreeSpec } from './supervision/spec.js';
import { spawnNode, type TreeNode, treeView, validateTree } from './supervision/tree.js';
import { SystemCore } from './system-core.js';
import type { Escalation, SystemMetrics, SystemOptions } from './system-options.js';
import { ActorStoppedError, ConfigError, SystemStoppedError } from './util/errors.js';
import { checkObject, knownKeys, positiveNumber } from './util/options.js';

export type { MailboxView, TreeNode } from './supervision/tree.js';
export type { MetricsServer, ServeMetricsOptions } from './observability/prometheus.js';
export type { ReplServer, ReplServerOptions } from './repl/server.js';
export type { Escalation, SystemMetrics, SystemOptions } from './system-options.js';
export type { ClusterOptions } from './remote/options.js';

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
export class ActorSystem extends SystemCore {
  private readonly metricsServers = new Set<MetricsServer>();
  private shuttingDown: Promise<void> | null = null;

  /** Systems are made by `ActorSystem.start(options)`. */
  private constructor(options: SystemOptions) {
    super(options);
  }

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
  override toString(): string {
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
