/**
 * A node's membership of a cluster over NATS, composed of its parts: asks to and from other
 * nodes (RemoteAsks), batched tells (Outbox, delivered here by onTells), pub/sub events across
 * nodes (`genesis.event.<topic>`), who is up (Membership), watches across nodes (RemoteWatches)
 * and snapshot replicas (ReplicaLink). It makes the targets of refs to actors elsewhere
 * (RemoteTarget: the ref's seam, so the local path is untouched).
 *
 * An ask or a tell to a node known to be down fails at once (NodeDownError; a dead letter), and
 * so does an ask in flight to a node as soon as it is found down.
 */
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { DeadLetters } from '../core/dead-letters.js';
import type { ActorRef, AskOptions, RemoteWatcher, Target } from '../core/ref.js';
import type { BreakerState } from '../resilience/breaker.js';
import { ClusterUnreachableError } from '../util/errors.js';
import { RemoteAsks } from './asks.js';
import { listener } from './listen.js';
import { Membership } from './membership.js';
import type { ResolvedCluster } from './options.js';
import { framesOf, Outbox } from './outbox.js';
import { type ReplicaHost, ReplicaLink } from './replicas.js';
import { RemoteWatches, type WatchHost } from './watches.js';
import { ALL_EVENTS, actorSubject, decode, encode, eventSubject, tellsSubject, topicOfSubject } from './wire.js';

/** What a cluster member needs of its system. */
export interface ClusterHost {
  readonly name: string;
  readonly log: Logger;
  readonly deadLetters: DeadLetters;
  /** Default ask timeout (ms). */
  readonly askTimeoutMs: number;
  lookup(path: string): ActorRef | undefined;
  /** An event from another node, for this node's subscribers only. */
  deliverRemoteEvent(topic: string, data: unknown, priority: number, source: string | undefined): void;
  /** The time left (ms) to the ask the running handler answers, if any: a remote ask made there gets no more. */
  remainingDeadline(): number | undefined;
  /** Snapshot replicas for and from partners on other nodes. */
  readonly replicas: ReplicaHost;
  /** `node` was heard from, first or again (its partners' replicas are sent again). */
  nodeUp(node: string): void;
  /** For watches from other nodes of actors here. */
  watchLocal: WatchHost['watchLocal'];
}

/** A tell, one frame of a batch: [path, message, priority]. */
type TellFrame = [string, unknown, number];
/** An event: [data, priority, origin node, source path or null]. */
type EventPayload = [unknown, number, string, string | null];

/** How long the breaker state a reply told stands for a remote actor's ref. */
const BREAKER_STATE_TTL_MS = 1000;

export class Cluster {
  private closing = false;
  private readonly subscriptions: Subscription[] = [];
  /** Asks to and from other nodes. */
  private readonly asks: RemoteAsks;
  /** Heartbeats, nodes up and down. */
  private readonly membership: Membership;
  /** ctx.watch of actors across nodes. */
  private readonly watches: RemoteWatches;
  /** Tells to other nodes, batched per node and turn. */
  private readonly outbox: Outbox;
  /** Snapshot replicas to and from other nodes. */
  readonly replicas: ReplicaLink;

  private constructor(
    readonly node: string,
    readonly servers: string[],
    private readonly nc: NatsConnection,
    private readonly host: ClusterHost,
    options: ResolvedCluster,
  ) {
    this.watches = new RemoteWatches(options.node, nc, host);
    this.outbox = new Outbox(nc, (tells, error) => {
      for (const [path, message] of tells) host.deadLetters.record(path, message, 'undeliverable', error);
    });
    this.membership = new Membership(
      nc,
      {
        log: host.log,
        nodeUp: (node) => {
          host.nodeUp(node);
          this.watches.nodeUp(node);
        },
        nodeDown: (node) => this.watches.nodeDown(node),
        tick: () => this.watches.sweep(),
      },
      options,
    );
    this.asks = new RemoteAsks(options.node, nc, {
      name: host.name,
      log: host.log,
      askTimeoutMs: host.askTimeoutMs,
      lookup: (path) => host.lookup(path),
      remainingDeadline: () => host.remainingDeadline(),
      isOpen: () => this.isOpen,
      isDown: (node) => this.membership.isDown(node),
      onDown: (node, whenDown) => this.membership.onDown(node, whenDown),
      flushTells: (node) => this.outbox.flush(node),
      checkSize: (path, bytes) => this.outbox.checkSize(path, bytes, false),
    });
    this.replicas = new ReplicaLink(options.node, nc, host.replicas, host.log, Math.min(1000, options.downAfterMs), (node) => this.membership.isDown(node));
  }

  /** Connects and starts serving; ClusterUnreachableError naming the servers when none answers. */
  static async join(options: ResolvedCluster, host: ClusterHost): Promise<Cluster> {
    let nc: NatsConnection;
    try {
      // noAsyncTraces: nats.js would otherwise make an Error (a stack capture) per request and per timeout.
      nc = await connect({ servers: options.servers, name: `genesis:${host.name}:${options.node}`, timeout: options.connectTimeoutMs, noAsyncTraces: true });
    } catch (error) {
      throw new ClusterUnreachableError(options.servers, error instanceof Error ? error.message : String(error), { cause: error });
    }
    const cluster = new Cluster(options.node, options.servers, nc, host, options);
    try {
      await cluster.membership.claimName();
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
    cluster.serve();
    // Subscriptions are registered on the server before start resolves: a node is reachable once joined.
    await nc.flush();
    host.log.info({ node: options.node, servers: options.servers }, `joined the cluster as node ${options.node}`);
    return cluster;
  }

  get isOpen(): boolean {
    return !this.closing && !this.nc.isClosed();
  }

  private serve(): void {
    const listen = listener(this.nc, this.host.log, () => this.closing);
    this.subscriptions.push(
      ...this.asks.serve(listen),
      ...this.membership.start(listen),
      ...this.replicas.serve(listen),
      ...this.watches.serve(listen),
      listen(ALL_EVENTS, (msg) => this.onEvent(msg)),
      listen(tellsSubject(this.node), (msg) => this.onTells(msg)),
    );
  }

  /** Is `node` known to be down? */
  isDown(node: string): boolean {
    return this.membership.isDown(node);
  }

  /**
   * @internal `watcher` gets `down` once `target` stops for good (with its exit reason) or its
   * node is down ('nodedown', at once if it is).
   */
  watch(target: RemoteTarget, watcher: RemoteWatcher, ref: ActorRef): void {
    const { node, path } = target;
    if (!this.isOpen || this.membership.isDown(node)) {
      watcher.signal({ type: 'down', ref, reason: 'nodedown' });
      return;
    }
    this.membership.expect(node);
    // Which process the node is, learnt now: a replacement that comes before its next heartbeat is seen.
    void this.membership.learnInstance(node);
    this.watches.watch(node, path, watcher, ref);
  }

  /** @internal */
  unwatch(target: RemoteTarget, watcher: RemoteWatcher): void {
    this.watches.unwatch(target.node, target.path, watcher);
  }

  /** A batch of tells from another node, each delivered to its local actor in order. */
  private onTells(msg: Msg): void {
    for (const frame of framesOf(msg.data)) {
      // One bad frame (undecodable, a priority out of range) is dropped alone: the others go on.
      try {
        const [path, message, priority] = decode(frame) as TellFrame;
        if (typeof path !== 'string') throw new TypeError('a remote tell names no path');
        const ref = this.host.lookup(path);
        if (ref === undefined) this.host.deadLetters.record(path, message, 'stopped');
        else ref.tell(message, { priority });
      } catch (error) {
        this.host.log.warn({ err: error }, 'a malformed remote tell dropped');
      }
    }
  }

  /** An event published on another node: delivered to this node's subscribers (its own echoes ignored). */
  private onEvent(msg: Msg): void {
    const payload = decode(msg.data) as EventPayload; // a throw: dropped, logged (listen)
    if (!Array.isArray(payload) || typeof payload[2] !== 'string') throw new TypeError('not an event');
    const [data, priority, origin, source] = payload;
    if (origin === this.node) return;
    this.host.deliverRemoteEvent(topicOfSubject(msg.subject), data, priority, typeof source === 'string' ? `${origin}:${source}` : undefined);
  }

  /** Publishes a (locally published) event to the other nodes. */
  publish(topic: string, data: unknown, priority: number, source: string | undefined): void {
    if (!this.isOpen) return;
    try {
      this.nc.publish(eventSubject(topic), encode([data, priority, this.node, source ?? null] satisfies EventPayload));
    } catch (error) {
      this.host.log.warn({ err: error, topic }, `event ${topic} not sent to other nodes`);
    }
  }

  /** The target of a ref to the actor at `path` on `node`. */
  target(node: string, path: string): RemoteTarget {
    return new RemoteTarget(this, node, path);
  }

  /** @internal A tell to another node: false when it could not be sent (it went to dead letters). */
  sendTo(target: RemoteTarget, message: unknown, priority: number): boolean {
    // A tell to a node known down would vanish on the wire: it is a dead letter here instead.
    if (!this.isOpen || this.membership.isDown(target.node)) {
      this.host.deadLetters.record(target.path, message, 'stopped');
      return false;
    }
    let frame: Uint8Array;
    try {
      frame = encode([target.path, message, priority] satisfies TellFrame);
      this.outbox.checkSize(target.path, frame.byteLength, true);
    } catch (error) {
      this.host.deadLetters.record(target.path, message, 'undeliverable', error);
      return false;
    }
    this.outbox.add(target.node, frame, target.path, message);
    return true;
  }

  /** @internal An ask to another node (see RemoteAsks). */
  askTo(target: RemoteTarget, message: unknown, options: AskOptions | undefined): Promise<unknown> {
    return this.asks.ask(target, message, options);
  }

  /** Stops serving, waits for the replies to asks in progress, flushes and closes the connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.outbox.flushAll();
    this.membership.leave();
    this.closing = true;
    for (const sub of this.subscriptions) sub.unsubscribe();
    await this.asks.answered();
    try {
      await this.nc.drain();
    } catch (error) {
      this.host.log.debug({ err: error }, 'cluster connection drain failed');
      await this.nc.close().catch(() => {});
    }
  }
}

/** The target of a ref to an actor on another node: tells and asks go over NATS. */
export class RemoteTarget implements Target {
  readonly name: string;
  readonly subject: string;
  /** Asks from here to it not yet answered: its load, as routers see it. */
  pending = 0;
  /** Its breaker's state in the last reply, and when (performance.now()) that came. */
  private breaker: BreakerState | null = null;
  private breakerSeenAt = 0;

  constructor(
    private readonly cluster: Cluster,
    readonly node: string,
    readonly path: string,
  ) {
    this.name = path.slice(path.lastIndexOf('/') + 1);
    this.subject = actorSubject(node, path);
  }

  /** While this node is in the cluster and that node is not known to be down. */
  get isAlive(): boolean {
    return this.cluster.isOpen && !this.cluster.isDown(this.node);
  }

  get isActive(): boolean {
    return this.isAlive;
  }

  get load(): number {
    return this.pending;
  }

  /**
   * The state its breaker had in the latest reply, for BREAKER_STATE_TTL_MS: it changes over
   * there without telling, so an old 'open' must not keep routers away for good.
   */
  get breakerState(): BreakerState | undefined {
    if (this.breaker === null || performance.now() - this.breakerSeenAt > BREAKER_STATE_TTL_MS) return undefined;
    return this.breaker;
  }

  /** @internal A reply told its breaker's state. */
  sawBreaker(state: BreakerState | null): void {
    this.breaker = state;
    if (state !== null) this.breakerSeenAt = performance.now();
  }

  send(message: unknown, priority: number): boolean {
    return this.cluster.sendTo(this, message, priority);
  }

  askFromHere(message: unknown, options: AskOptions | undefined): Promise<unknown> {
    return this.cluster.askTo(this, message, options);
  }

  watchBy(watcher: RemoteWatcher, ref: ActorRef): void {
    this.cluster.watch(this, watcher, ref);
  }

  unwatchBy(watcher: RemoteWatcher): void {
    this.cluster.unwatch(this, watcher);
  }
}
