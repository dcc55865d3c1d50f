/**
 * Who is in the cluster: heartbeats, failure detection and node names.
 *
 * Every node publishes a heartbeat on `genesis.node.<node>` each `heartbeatMs` and a goodbye when
 * it shuts down. A node heard from and then silent for `downAfterMs` (or gone with a goodbye, or
 * back as a new process: each process's heartbeats carry its own instance id) is down: whoever
 * waits on it (asks in flight) and the host (watches) are told at once.
 *
 * A node name is one process's: a process joining under a name another live process answers to
 * is refused (ConfigError on `cluster.node`).
 */
import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ConfigError } from '../util/errors.js';
import type { Listen } from './listen.js';
import { isNodeName, type ResolvedCluster } from './options.js';
import { ALL_HEARTBEATS, decode, encode, heartbeatSubject, helloSubject } from './wire.js';

/** A heartbeat: [node, 0 (alive) or 1 (goodbye: shutting down), the process's instance id]. */
type Heartbeat = [string, 0 | 1, string];

/** How many nodes known to be down are remembered. */
const MAX_DOWN_NODES = 1024;

/** What membership needs of its node. */
export interface MembershipHost {
  readonly log: Logger;
  /** `node` was heard from, first or again. */
  nodeUp(node: string): void;
  /** `node` is down (silent, gone, or replaced by a new process). */
  nodeDown(node: string): void;
  /** Each heartbeatMs, for housekeeping. */
  tick(): void;
}

export class Membership {
  /** When (performance.now()) each other node was last heard from (or first watched). */
  private readonly lastHeard = new Map<string, number>();
  /** Nodes known to be down (until heard from again). */
  private readonly downNodes = new Set<string>();
  /** Who waits on each node (asks in flight): each is called when it is down. */
  private readonly waiting = new Map<string, Set<() => void>>();
  /** The instance id of the process each node up is (a new one: the old process is gone). */
  private readonly instances = new Map<string, string>();
  /** This process's instance id. */
  private readonly instance = randomUUID();
  private warnedTwin = false;
  private closing = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastTick = performance.now();
  private readonly heartbeatMs: number;
  private readonly downAfterMs: number;
  readonly node: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly host: MembershipHost,
    private readonly options: ResolvedCluster,
  ) {
    this.node = options.node;
    this.heartbeatMs = options.heartbeatMs;
    this.downAfterMs = options.downAfterMs;
  }

  /** Answers to this node's name, listens to the others' heartbeats, and starts beating. */
  start(listen: Listen): Subscription[] {
    const subscriptions = [listen(helloSubject(this.node), (msg) => this.answerHello(msg)), listen(ALL_HEARTBEATS, (msg) => this.onHeartbeat(msg))];
    this.beat(0);
    this.heartbeat = setInterval(() => this.tick(), this.heartbeatMs);
    this.heartbeat.unref();
    return subscriptions;
  }

  /** Stops beating; the others learn at once that this node is gone (not after downAfterMs). */
  leave(): void {
    if (this.closing) return;
    clearInterval(this.heartbeat);
    if (!this.nc.isClosed()) this.beat(1);
    this.closing = true;
  }

  /** ConfigError if another live process is this node already (it answers on the node's hello subject). */
  async claimName(): Promise<void> {
    let pid: number;
    try {
      [, pid] = decode((await this.nc.request(helloSubject(this.node), encode(this.instance), { timeout: Math.min(this.options.connectTimeoutMs, 1000) })).data) as [
        string,
        number,
      ];
    } catch {
      return; // no responders (or no answer): the name is free
    }
    throw new ConfigError(
      'cluster.node',
      `node '${this.node}' is already in the cluster at ${this.options.servers.join(', ')} (pid ${pid}): each node needs its own name`,
    );
  }

  private answerHello(msg: Msg): void {
    try {
      msg.respond(encode([this.instance, process.pid]));
    } catch (error) {
      this.host.log.debug({ err: error }, 'hello not answered');
    }
  }

  private beat(kind: 0 | 1): void {
    try {
      this.nc.publish(heartbeatSubject(this.node), encode([this.node, kind, this.instance] satisfies Heartbeat));
    } catch (error) {
      this.host.log.debug({ err: error }, 'heartbeat not sent');
    }
  }

  /** Each heartbeatMs: tells the others this node lives, and finds the nodes gone silent. */
  private tick(): void {
    if (this.closing || this.nc.isClosed()) return;
    this.beat(0);
    const now = performance.now();
    // This process was paused (a long handler, a GC): the heartbeats that came meanwhile are not
    // read yet, so silence is not held against anyone for that pause.
    if (now - this.lastTick > this.downAfterMs / 2) {
      for (const [node, heard] of this.lastHeard) this.lastHeard.set(node, Math.max(heard, now - this.heartbeatMs));
    }
    this.lastTick = now;
    for (const [node, heard] of this.lastHeard) if (now - heard > this.downAfterMs) this.nodeDown(node, `silent for ${Math.round(now - heard)} ms`);
    this.host.tick();
  }

  private onHeartbeat(msg: Msg): void {
    const [node, kind, instance] = decode(msg.data) as Heartbeat;
    if (!isNodeName(node) || (kind !== 0 && kind !== 1) || typeof instance !== 'string') throw new TypeError('not a heartbeat');
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
  async learnInstance(node: string): Promise<void> {
    if (this.instances.has(node)) return;
    try {
      const [instance] = decode((await this.nc.request(helloSubject(node), encode(this.instance), { timeout: this.downAfterMs })).data) as [string, number];
      if (typeof instance === 'string' && !this.closing && !this.downNodes.has(node) && !this.instances.has(node)) this.heard(node, instance);
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
    // Bounded (per-pod names come and go): the oldest down node is forgotten; a tell to it then
    // leaves unseen, an ask still fails at once (no responders).
    if (this.downNodes.size > MAX_DOWN_NODES) this.downNodes.delete(this.downNodes.values().next().value as string);
    this.host.log.warn({ node, why }, `node ${node} is down (${why})`);
    const waiting = this.waiting.get(node);
    if (waiting !== undefined) {
      this.waiting.delete(node);
      for (const told of waiting) told();
    }
    this.host.nodeDown(node);
  }

  /** `whenDown` is called once `node` is down, unless the returned function is called first. */
  onDown(node: string, whenDown: () => void): () => void {
    this.expect(node);
    let waiting = this.waiting.get(node);
    if (waiting === undefined) this.waiting.set(node, (waiting = new Set()));
    const set = waiting;
    set.add(whenDown);
    return () => {
      set.delete(whenDown);
      if (set.size === 0 && this.waiting.get(node) === set) this.waiting.delete(node);
    };
  }

  /** A node never heard from gets downAfterMs from now to show up (this node always lives). */
  expect(node: string): void {
    if (node !== this.node && !this.lastHeard.has(node)) this.lastHeard.set(node, performance.now());
  }
}
