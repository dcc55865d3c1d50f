/**
 * A node's membership of a cluster over NATS: it serves its actors to other nodes (one
 * subscription on `genesis.actor.<node>.>`: a message without a reply subject is a tell, one with
 * a reply subject an ask), carries pub/sub events across nodes (`genesis.event.<topic>`), and
 * makes the targets of refs to actors elsewhere (RemoteTarget: the ref's seam, so the local path
 * is untouched).
 *
 * Failure detection: every node publishes a heartbeat on `genesis.node.<node>` each `heartbeatMs`
 * and a goodbye when it shuts down. A node heard from and then silent for `downAfterMs` (or gone
 * with a goodbye, or back as a new process: each process's heartbeats carry its own instance id)
 * is down: its watchers get `down` with reason 'nodedown', asks in flight to it fail with
 * NodeDownError at once, and so do new ones until it is heard from again.
 *
 * A node name is one process's: a process joining under a name another live process answers to
 * is refused (ConfigError on `cluster.node`).
 */
import { randomUUID } from 'node:crypto';
import { connect, type Msg, type NatsConnection, RequestError, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { DeadLetters } from '../core/dead-letters.js';
import { DEFAULT_PRIORITY } from '../core/mailbox.js';
import { type ActorRef, type AskOptions, askOptionsRead, type RemoteWatcher, readAskOptions, type Target } from '../core/ref.js';
import type { BreakerState } from '../resilience/breaker.js';
import { ActorStoppedError, ClusterUnreachableError, ConfigError, NodeDownError, SystemStoppedError, TimeoutError } from '../util/errors.js';
import type { ResolvedCluster } from './options.js';
import { ReplicaLink, type ReplicaHost } from './replicas.js';
import {
  ALL_EVENTS,
  ALL_HEARTBEATS,
  actorSubject,
  decode,
  encode,
  errorFromWire,
  errorToWire,
  eventSubject,
  heartbeatSubject,
  helloSubject,
  nodeActorsSubject,
  pathOfSubject,
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
}

/** A request: [message, priority, timeoutMs]; a reply: [0, value] or [1, error]. */
type AskRequest = [unknown, number, number];
type AskReply = [0, unknown] | [1, WireError];
/** An event: [data, priority, origin node, source path or null]. */
type EventPayload = [unknown, number, string, string | null];
/** A heartbeat: [node, 0 (alive) or 1 (goodbye: shutting down), the process's instance id]. */
type Heartbeat = [string, 0 | 1, string];

/** NATS waits this much past the caller's deadline (the caller's own timer ends the ask first). */
const REQUEST_GRACE_MS = 1000;

export class Cluster {
  private closing = false;
  private readonly subscriptions: Subscription[] = [];
  /** Asks from other nodes being handled here (shutdown waits for their replies). */
  private readonly serving = new Set<Promise<void>>();
  /** When (performance.now()) each other node was last heard from (or first watched). */
  private readonly lastHeard = new Map<string, number>();
  /** Nodes known to be down (until heard from again). */
  private readonly downNodes = new Set<string>();
  /** Watches of actors on other nodes: node → watcher → path → the ref watched. */
  private readonly watches = new Map<string, Map<RemoteWatcher, Map<string, ActorRef>>>();
  /** Asks in flight to each node: each fails with NodeDownError when it is called. */
  private readonly inFlight = new Map<string, Set<() => void>>();
  /** The instance id of the process each node up is (a new one: the old process is gone). */
  private readonly instances = new Map<string, string>();
  /** This process's instance id. */
  private readonly instance = randomUUID();
  private warnedTwin = false;
  /** Snapshot replicas to and from other nodes. */
  readonly replicas: ReplicaLink;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastTick = performance.now();
  private readonly heartbeatMs: number;
  private readonly downAfterMs: number;

  private constructor(
    readonly node: string,
    readonly servers: string[],
    private readonly nc: NatsConnection,
    private readonly host: ClusterHost,
    options: ResolvedCluster,
  ) {
    this.heartbeatMs = options.heartbeatMs;
    this.downAfterMs = options.downAfterMs;
    this.replicas = new ReplicaLink(options.node, nc, host.replicas, host.log, Math.min(1000, options.downAfterMs), (node) => this.downNodes.has(node));
  }

  /** Connects and starts serving; ClusterUnreachableError naming the servers when none answers. */
  static async join(options: ResolvedCluster, host: ClusterHost): Promise<Cluster> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: options.servers, name: `genesis:${host.name}:${options.node}`, timeout: options.connectTimeoutMs });
    } catch (error) {
      throw new ClusterUnreachableError(options.servers, error instanceof Error ? error.message : String(error), { cause: error });
    }
    const cluster = new Cluster(options.node, options.servers, nc, host, options);
    try {
      await cluster.claimName(options.connectTimeoutMs);
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
    cluster.serve();
    cluster.beat(0);
    cluster.heartbeat = setInterval(() => cluster.tick(), cluster.heartbeatMs);
    cluster.heartbeat.unref();
    // Subscriptions are registered on the server before start resolves: a node is reachable once joined.
    await nc.flush();
    host.log.info({ node: options.node, servers: options.servers }, `joined the cluster as node ${options.node}`);
    return cluster;
  }

  get isOpen(): boolean {
    return !this.closing && !this.nc.isClosed();
  }

  /** ConfigError if another live process is this node already (it answers on the node's hello subject). */
  private async claimName(timeoutMs: number): Promise<void> {
    let pid: number;
    try {
      [, pid] = decode((await this.nc.request(helloSubject(this.node), encode(this.instance), { timeout: Math.min(timeoutMs, 1000) })).data) as [string, number];
    } catch {
      return; // no responders (or no answer): the name is free
    }
    throw new ConfigError('cluster.node', `node '${this.node}' is already in the cluster at ${this.servers.join(', ')} (pid ${pid}): each node needs its own name`);
  }

  private serve(): void {
    this.subscriptions.push(
      this.nc.subscribe(helloSubject(this.node), { callback: (error, msg) => (error === null ? this.answerHello(msg) : this.onSubscriptionError(error)) }),
      ...this.replicas.serve((error) => this.onSubscriptionError(error)),
      this.nc.subscribe(nodeActorsSubject(this.node), { callback: (error, msg) => (error === null ? this.onActorMessage(msg) : this.onSubscriptionError(error)) }),
      this.nc.subscribe(ALL_EVENTS, { callback: (error, msg) => (error === null ? this.onEvent(msg) : this.onSubscriptionError(error)) }),
      this.nc.subscribe(ALL_HEARTBEATS, { callback: (error, msg) => (error === null ? this.onHeartbeat(msg) : this.onSubscriptionError(error)) }),
    );
  }

  private answerHello(msg: Msg): void {
    try {
      msg.respond(encode([this.instance, process.pid]));
    } catch (error) {
      this.host.log.debug({ err: error }, 'hello not answered');
    }
  }

  // ---- Failure detection ---------------------------------------------------------------

  private beat(kind: 0 | 1): void {
    try {
      this.nc.publish(heartbeatSubject(this.node), encode([this.node, kind, this.instance] satisfies Heartbeat));
    } catch (error) {
      this.host.log.debug({ err: error }, 'heartbeat not sent');
    }
  }

  /** Each heartbeatMs: tells the others this node lives, and finds the nodes gone silent. */
  private tick(): void {
    if (!this.isOpen) return;
    this.beat(0);
    const now = performance.now();
    // This process was paused (a long handler, a GC): the heartbeats that came meanwhile are not
    // read yet, so silence is not held against anyone for that pause.
    if (now - this.lastTick > this.downAfterMs / 2) {
      for (const [node, heard] of this.lastHeard) this.lastHeard.set(node, Math.max(heard, now - this.heartbeatMs));
    }
    this.lastTick = now;
    for (const [node, heard] of this.lastHeard) if (now - heard > this.downAfterMs) this.nodeDown(node, `silent for ${Math.round(now - heard)} ms`);
    for (const byWatcher of this.watches.values()) for (const watcher of byWatcher.keys()) if (!watcher.isAlive) byWatcher.delete(watcher);
  }

  private onHeartbeat(msg: Msg): void {
    let node: string;
    let kind: 0 | 1;
    let instance: string;
    try {
      [node, kind, instance] = decode(msg.data) as Heartbeat;
    } catch (error) {
      this.host.log.warn({ err: error, subject: msg.subject }, 'undecodable heartbeat dropped');
      return;
    }
    if (this.closing) return;
    if (node === this.node) {
      if (instance !== this.instance && !this.warnedTwin) {
        // Two processes joined under one name at the same moment (the hello check cannot see that).
        this.warnedTwin = true;
        this.host.log.error({ node }, `another process also runs as node ${node}: remote refs to ${node} reach either`);
      }
      return;
    }
    if (kind === 1) {
      this.nodeDown(node, 'shut down');
      return;
    }
    this.heard(node, String(instance));
  }

  /** `node` is alive as the process `instance`: a new process there means the old one is gone. */
  private heard(node: string, instance: string): void {
    const known = this.instances.get(node);
    // The node's process was replaced faster than downAfterMs: the old one, and its actors, are gone.
    if (known !== undefined && known !== instance) this.nodeDown(node, 'restarted as a new process');
    this.lastHeard.set(node, performance.now());
    if (this.instances.get(node) === instance) return;
    this.instances.set(node, instance);
    if (this.downNodes.delete(node)) this.host.log.info({ node }, `node ${node} is up again`);
    this.host.nodeUp(node);
  }

  /**
   * Learns which process `node` is now, without waiting for its next heartbeat: a watch made just
   * before that process is replaced still sees the replacement.
   */
  private async learnInstance(node: string): Promise<void> {
    try {
      const [instance] = decode((await this.nc.request(helloSubject(node), encode(this.instance), { timeout: this.downAfterMs })).data) as [string, number];
      if (!this.closing && !this.downNodes.has(node) && !this.instances.has(node)) this.heard(node, String(instance));
    } catch {
      // not there (yet): its heartbeats, or their absence, decide
    }
  }

  /** Is `node` known to be down? */
  isDown(node: string): boolean {
    return this.downNodes.has(node);
  }

  private nodeDown(node: string, why: string): void {
    this.lastHeard.delete(node);
    this.instances.delete(node);
    if (this.downNodes.has(node)) return;
    this.downNodes.add(node);
    this.host.log.warn({ node, why }, `node ${node} is down (${why})`);
    const asks = this.inFlight.get(node);
    if (asks !== undefined) {
      this.inFlight.delete(node);
      for (const fail of asks) fail();
    }
    const watches = this.watches.get(node);
    if (watches !== undefined) {
      this.watches.delete(node);
      for (const [watcher, refs] of watches) {
        if (!watcher.isAlive) continue;
        for (const ref of refs.values()) watcher.signal({ type: 'down', ref, reason: 'nodedown' });
      }
    }
  }

  /** @internal `watcher` gets `down` (reason 'nodedown') once `target`'s node is down (at once if it is). */
  watch(target: RemoteTarget, watcher: RemoteWatcher, ref: ActorRef): void {
    const { node, path } = target;
    if (this.downNodes.has(node) || !this.isOpen) {
      watcher.signal({ type: 'down', ref, reason: 'nodedown' });
      return;
    }
    this.expect(node);
    if (!this.instances.has(node)) void this.learnInstance(node);
    let byWatcher = this.watches.get(node);
    if (byWatcher === undefined) this.watches.set(node, (byWatcher = new Map()));
    let refs = byWatcher.get(watcher);
    if (refs === undefined) byWatcher.set(watcher, (refs = new Map()));
    refs.set(path, ref);
  }

  /** A node never heard from gets downAfterMs from now to show up (this node always lives). */
  private expect(node: string): void {
    if (node !== this.node && !this.lastHeard.has(node)) this.lastHeard.set(node, performance.now());
  }

  /** @internal */
  unwatch(target: RemoteTarget, watcher: RemoteWatcher): void {
    const byWatcher = this.watches.get(target.node);
    const refs = byWatcher?.get(watcher);
    if (refs === undefined) return;
    refs.delete(target.path);
    if (refs.size === 0) byWatcher!.delete(watcher);
  }

  private onSubscriptionError(error: Error): void {
    if (!this.closing) this.host.log.warn({ err: error, node: this.node }, 'cluster subscription failed');
  }

  /** A tell (no reply subject) or an ask (a reply subject) from another node, to a local actor. */
  private onActorMessage(msg: Msg): void {
    const path = pathOfSubject(msg.subject);
    if (msg.reply === undefined || msg.reply === '') {
      let message: unknown;
      let priority = DEFAULT_PRIORITY;
      try {
        [message, priority] = decode(msg.data) as [unknown, number];
      } catch (error) {
        this.host.log.warn({ err: error, path }, 'undecodable remote tell dropped');
        return;
      }
      const ref = this.host.lookup(path);
      if (ref === undefined) this.host.deadLetters.record(path, message, 'stopped');
      else ref.tell(message, { priority });
      return;
    }
    const served = this.answer(msg, path);
    this.serving.add(served);
    void served.finally(() => this.serving.delete(served));
  }

  private async answer(msg: Msg, path: string): Promise<void> {
    let reply: AskReply;
    try {
      const [message, priority, timeoutMs] = decode(msg.data) as AskRequest;
      const ref = this.host.lookup(path);
      if (ref === undefined) throw new ActorStoppedError(path, `no actor at ${path} on node ${this.node}`);
      reply = [0, await ref.ask(message, { priority, timeoutMs })];
    } catch (error) {
      reply = [1, errorToWire(error)];
    }
    let data: Uint8Array;
    try {
      data = encode(reply);
    } catch (error) {
      data = encode([1, errorToWire(new ConfigError('reply', `cannot be sent to another node: ${error instanceof Error ? error.message : String(error)}`))]);
    }
    try {
      msg.respond(data);
    } catch (error) {
      this.host.log.debug({ err: error, path }, 'remote ask reply not sent (connection closing)');
    }
  }

  /** An event published on another node: delivered to this node's subscribers (its own echoes ignored). */
  private onEvent(msg: Msg): void {
    let payload: EventPayload;
    try {
      payload = decode(msg.data) as EventPayload;
    } catch (error) {
      this.host.log.warn({ err: error, subject: msg.subject }, 'undecodable remote event dropped');
      return;
    }
    const [data, priority, origin, source] = payload;
    if (origin === this.node) return;
    try {
      this.host.deliverRemoteEvent(topicOfSubject(msg.subject), data, priority, source === null ? undefined : `${origin}:${source}`);
    } catch (error) {
      this.host.log.debug({ err: error, subject: msg.subject }, 'remote event not delivered');
    }
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
    if (!this.isOpen) {
      this.host.deadLetters.record(target.path, message, 'stopped');
      return false;
    }
    try {
      this.nc.publish(target.subject, encode([message, priority]));
      return true;
    } catch (error) {
      this.host.deadLetters.record(target.path, message, 'undeliverable', error);
      return false;
    }
  }

  /** @internal An ask to another node: request/reply with the caller's deadline; never throws. */
  askTo(target: RemoteTarget, message: unknown, options: AskOptions | undefined): Promise<unknown> {
    let timeoutMs = this.host.askTimeoutMs;
    let priority = DEFAULT_PRIORITY;
    let signal: AbortSignal | undefined;
    let data: Uint8Array;
    try {
      if (options !== undefined) {
        readAskOptions(options, timeoutMs);
        ({ timeoutMs, priority, signal } = askOptionsRead);
        if (signal?.aborted) return Promise.reject(signal.reason);
      }
      if (!this.isOpen) throw new SystemStoppedError(this.host.name);
      if (this.downNodes.has(target.node)) throw new NodeDownError(target.node, target.path);
      this.expect(target.node);
      // Asked while answering an ask: no longer than that ask's caller waits.
      const left = this.host.remainingDeadline();
      if (left !== undefined) {
        if (left <= 0) throw new TimeoutError(target.path, 0);
        if (left < timeoutMs) timeoutMs = left;
      }
      data = encode([message, priority, timeoutMs] satisfies AskRequest);
    } catch (error) {
      return Promise.reject(error);
    }
    const { path, node } = target;
    return new Promise((resolve, reject) => {
      let settled = false;
      let inFlight = this.inFlight.get(node);
      if (inFlight === undefined) this.inFlight.set(node, (inFlight = new Set()));
      const asks = inFlight;
      const finish = (error: unknown, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        asks.delete(onNodeDown);
        if (error === undefined) resolve(value);
        else reject(error);
      };
      const onAbort = () => finish(signal!.reason);
      // The node found down while this ask waits: it fails now, not at its deadline.
      const onNodeDown = () => finish(new NodeDownError(node, path));
      asks.add(onNodeDown);
      // The caller's deadline is the caller's: its own timer, whatever the network does.
      const timer = setTimeout(() => finish(new TimeoutError(path, timeoutMs)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.nc.request(target.subject, data, { timeout: timeoutMs + REQUEST_GRACE_MS }).then(
        (msg) => {
          let reply: AskReply;
          try {
            reply = decode(msg.data) as AskReply;
          } catch (error) {
            finish(error);
            return;
          }
          if (reply[0] === 0) finish(undefined, reply[1]);
          else finish(errorFromWire(reply[1]));
        },
        (error: unknown) => {
          if (error instanceof RequestError && error.isNoResponders()) finish(new NodeDownError(node, path));
          else if (this.closing || this.nc.isClosed()) finish(new SystemStoppedError(this.host.name));
          else if (error instanceof Error && error.name === 'TimeoutError') finish(new TimeoutError(path, timeoutMs));
          else finish(error);
        },
      );
    });
  }

  /** Stops serving, waits for the replies to asks in progress, flushes and closes the connection. */
  async close(): Promise<void> {
    if (this.closing) return;
    clearInterval(this.heartbeat);
    // The others learn at once that this node is gone (not after downAfterMs).
    if (!this.nc.isClosed()) this.beat(1);
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
    return this.cluster.isOpen;
  }

  get load(): number {
    return 0;
  }

  get breakerState(): BreakerState | undefined {
    return undefined;
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
