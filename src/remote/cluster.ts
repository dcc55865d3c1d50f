/**
 * A node's membership of a cluster over NATS: it serves its actors to other nodes (one
 * subscription on `genesis.actor.<node>.>`: a message without a reply subject is a tell, one with
 * a reply subject an ask), carries pub/sub events across nodes (`genesis.event.<topic>`), and
 * makes the targets of refs to actors elsewhere (RemoteTarget: the ref's seam, so the local path
 * is untouched). Who is up, and who watches whom across nodes, is Membership's; snapshot
 * replicas are ReplicaLink's.
 *
 * An ask to a node known to be down fails at once with NodeDownError, and so does an ask in
 * flight to a node as soon as it is found down.
 */
import { connect, createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { DeadLetters } from '../core/dead-letters.js';
import { DEFAULT_PRIORITY } from '../core/mailbox.js';
import { type ActorRef, type AskOptions, askOptionsRead, type RemoteWatcher, readAskOptions, type Target } from '../core/ref.js';
import type { BreakerState } from '../resilience/breaker.js';
import {
  ActorStoppedError,
  ClusterUnreachableError,
  ConfigError,
  GenesisError,
  MessageTooLargeError,
  NodeDownError,
  SystemStoppedError,
  TimeoutError,
} from '../util/errors.js';
import { listener } from './listen.js';
import { Membership } from './membership.js';
import { framesOf, Outbox } from './outbox.js';
import { RemoteWatches, type WatchHost } from './watches.js';
import type { ResolvedCluster } from './options.js';
import { ReplicaLink, type ReplicaHost } from './replicas.js';
import {
  ALL_EVENTS,
  actorSubject,
  decode,
  encode,
  errorFromWire,
  errorToWire,
  cancelSubject,
  eventSubject,
  nodeActorsSubject,
  pathOfSubject,
  tellsSubject,
  topicOfSubject,
  type WireError,
} from './wire.js';

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

/**
 * A request: [message, priority, timeoutMs, cancel id (0: the caller cannot cancel)]; a reply:
 * [0, value, breaker state] or [1, error, breaker state] (the state: the target's breaker's, or null).
 */
type AskRequest = [unknown, number, number, number];
type AskReply = [0, unknown, BreakerState | null] | [1, WireError, BreakerState | null];
/** A tell, one frame of a batch: [path, message, priority]. */
type TellFrame = [string, unknown, number];
/** A cancellation: [the asking node, its cancel id, the reason its caller gave up]. */
type Cancel = [string, number, WireError];
/** An event: [data, priority, origin node, source path or null]. */
type EventPayload = [unknown, number, string, string | null];

/** How long the breaker state a reply told stands for a remote actor's ref. */
const BREAKER_STATE_TTL_MS = 1000;

export class Cluster {
  private closing = false;
  private readonly subscriptions: Subscription[] = [];
  /** Asks from other nodes being handled here (shutdown waits for their replies). */
  private readonly serving = new Set<Promise<void>>();
  /** Asks from other nodes that their callers may cancel: `node:id` → the ask's abort. */
  private readonly cancellable = new Map<string, AbortController>();
  /** The id of the next ask from here that its caller may cancel. */
  private nextCancelId = 1;
  /** Replies to this node's asks come to `<replyPrefix><id>`: one subscription, not nc.request's per-ask machinery. */
  private readonly replyPrefix = `${createInbox()}.`;
  /** Asks waiting for their reply, by id (undefined: the connection closed). */
  private readonly replies = new Map<string, (msg: Msg | undefined) => void>();
  private nextReply = 0;
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
    // Not in `subscriptions`: replies to asks made while closing still come, until the drain.
    listen(`${this.replyPrefix}*`, (msg) => this.replies.get(msg.subject.slice(this.replyPrefix.length))?.(msg));
    // Closed (drained by close(), or lost for good): the asks still waiting fail now.
    void this.nc.closed().then(() => {
      for (const settle of [...this.replies.values()]) settle(undefined);
    });
    this.subscriptions.push(
      ...this.membership.start(listen),
      ...this.replicas.serve(listen),
      ...this.watches.serve(listen),
      listen(nodeActorsSubject(this.node), (msg) => this.onActorMessage(msg)),
      listen(ALL_EVENTS, (msg) => this.onEvent(msg)),
      listen(cancelSubject(this.node), (msg) => this.onCancel(msg)),
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

  /** An ask from another node, to a local actor (tells come in batches: onTells). */
  private onActorMessage(msg: Msg): void {
    const path = pathOfSubject(msg.subject);
    if (msg.reply === undefined || msg.reply === '') {
      this.host.log.warn({ path }, 'a message without a reply subject on an actor subject dropped');
      return;
    }
    const served = this.answer(msg, path);
    this.serving.add(served);
    void served.finally(() => this.serving.delete(served));
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

  private async answer(msg: Msg, path: string): Promise<void> {
    let reply: AskReply;
    let ref: ActorRef | undefined;
    let cancelKey: string | undefined;
    let abort: AbortController | undefined;
    try {
      const [message, priority, timeoutMs, cancelId, from] = decode(msg.data) as [...AskRequest, string];
      ref = this.host.lookup(path);
      if (ref === undefined) throw new ActorStoppedError(path, `no actor at ${path} on node ${this.node}`);
      let signal: AbortSignal | undefined;
      if (cancelId !== 0) {
        // The caller may give up: its cancellation aborts this ask (ctx.signal, if it is being handled).
        abort = new AbortController();
        cancelKey = `${from}:${cancelId}`;
        this.cancellable.set(cancelKey, abort);
        signal = abort.signal;
      }
      reply = [0, await ref.ask(message, signal === undefined ? { priority, timeoutMs } : { priority, timeoutMs, signal }), null];
    } catch (error) {
      reply = [1, errorToWire(error), null];
    }
    // Only its own entry: the caller's process may have restarted since, reusing the id.
    if (cancelKey !== undefined && this.cancellable.get(cancelKey) === abort) this.cancellable.delete(cancelKey);
    reply[2] = ref?.target.breakerState ?? null;
    let data: Uint8Array;
    try {
      data = encode(reply);
      const limit = this.outbox.maxPayload - 256;
      if (data.byteLength > limit) throw new MessageTooLargeError(path, data.byteLength, limit);
    } catch (error) {
      const why =
        error instanceof MessageTooLargeError
          ? error
          : new ConfigError('reply', `cannot be sent to another node: ${error instanceof Error ? error.message : String(error)}`);
      data = encode([1, errorToWire(why), null]);
    }
    try {
      msg.respond(data);
    } catch (error) {
      this.host.log.debug({ err: error, path }, 'remote ask reply not sent (connection closing)');
    }
  }

  /** The caller of an ask from another node gave up on it. */
  private onCancel(msg: Msg): void {
    const [from, id, reason] = decode(msg.data) as Cancel; // a throw: dropped, logged (listen)
    this.cancellable.get(`${from}:${id}`)?.abort(errorFromWire(reason));
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
      // Room for the batch's framing and the protocol line: what cannot travel is refused here.
      const limit = this.outbox.maxPayload - 4 - 256;
      if (frame.byteLength > limit) throw new MessageTooLargeError(target.path, frame.byteLength, limit);
    } catch (error) {
      this.host.deadLetters.record(target.path, message, 'undeliverable', error);
      return false;
    }
    this.outbox.add(target.node, frame, target.path, message);
    return true;
  }

  /**
   * @internal An ask to another node: request/reply with the caller's deadline (the remote handler
   * sees it too), a node found down failing it at once, and the caller's signal cancelling it on
   * the other node as well. Never throws.
   */
  askTo(target: RemoteTarget, message: unknown, options: AskOptions | undefined): Promise<unknown> {
    let timeoutMs = this.host.askTimeoutMs;
    let priority = DEFAULT_PRIORITY;
    let signal: AbortSignal | undefined;
    let cancelId = 0;
    let data: Uint8Array;
    try {
      if (options !== undefined) {
        readAskOptions(options, timeoutMs);
        ({ timeoutMs, priority, signal } = askOptionsRead);
        if (signal?.aborted) return Promise.reject(signal.reason);
      }
      if (!this.isOpen) throw new SystemStoppedError(this.host.name);
      if (this.membership.isDown(target.node)) throw new NodeDownError(target.node, target.path);
      // Asked while answering an ask: no longer than that ask's caller waits.
      const left = this.host.remainingDeadline();
      if (left !== undefined) {
        if (left <= 0) throw new TimeoutError(target.path, 0);
        if (left < timeoutMs) timeoutMs = left;
      }
      if (signal !== undefined) cancelId = this.nextCancelId++;
      data = encode(cancelId === 0 ? ([message, priority, timeoutMs, 0] satisfies AskRequest) : [message, priority, timeoutMs, cancelId, this.node]);
      const limit = this.outbox.maxPayload - 256;
      if (data.byteLength > limit) throw new MessageTooLargeError(target.path, data.byteLength, limit);
    } catch (error) {
      return Promise.reject(error);
    }
    const { path, node } = target;
    target.pending++;
    return new Promise((resolve, reject) => {
      let settled = false;
      const id = (this.nextReply++).toString(36);
      const finish = (error: unknown, value?: unknown) => {
        if (settled) return;
        settled = true;
        target.pending--;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        forget();
        this.replies.delete(id);
        if (error === undefined) resolve(value);
        else reject(error);
      };
      const onAbort = () => {
        // The handler over there stops too (its ctx.signal aborts), or never starts.
        this.publishSafely(cancelSubject(node), encode([this.node, cancelId, errorToWire(signal!.reason)] satisfies Cancel));
        finish(signal!.reason);
      };
      // The node found down while this ask waits: it fails now, not at its deadline.
      const forget = this.membership.onDown(node, () => finish(new NodeDownError(node, path)));
      // The caller's deadline is the caller's: its own timer, whatever the network does.
      const timer = setTimeout(() => finish(new TimeoutError(path, timeoutMs)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.outbox.flush(node); // the tells made before this ask arrive before it
      this.replies.set(id, (msg) => {
        if (msg === undefined) {
          finish(new SystemStoppedError(this.host.name));
          return;
        }
        // No subscriber on the target's node: nats-server answers with a 503 status and no data.
        if (msg.data.length === 0 && msg.headers?.code === 503) {
          finish(new NodeDownError(node, path));
          return;
        }
        let reply: AskReply;
        try {
          reply = decode(msg.data) as AskReply;
          if (!Array.isArray(reply) || (reply[0] !== 0 && reply[0] !== 1)) throw new TypeError('not a reply');
        } catch (error) {
          finish(new GenesisError('BAD_REPLY', `the reply of node ${node} to an ask to ${path} is malformed`, { cause: error }));
          return;
        }
        target.sawBreaker(typeof reply[2] === 'string' ? reply[2] : null);
        if (reply[0] === 0) finish(undefined, reply[1]);
        else finish(errorFromWire(reply[1]));
      });
      try {
        this.nc.publish(target.subject, data, { reply: this.replyPrefix + id });
      } catch (error) {
        finish(this.closing || this.nc.isClosed() ? new SystemStoppedError(this.host.name) : error);
      }
    });
  }

  private publishSafely(subject: string, data: Uint8Array): void {
    if (!this.isOpen) return;
    try {
      this.nc.publish(subject, data);
    } catch (error) {
      this.host.log.debug({ err: error, subject }, 'not sent (connection closing)');
    }
  }

  /** Stops serving, waits for the replies to asks in progress, flushes and closes the connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.outbox.flushAll();
    this.membership.leave();
    this.closing = true;
    for (const sub of this.subscriptions) sub.unsubscribe();
    await Promise.allSettled([...this.serving]);
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
