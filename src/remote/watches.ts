/**
 * `ctx.watch(remoteRef)` across nodes, as Erlang's monitors across nodes: the watching node asks
 * the actor's node (`genesis.watch.<node>`, once per watched actor whatever the number of local
 * watchers) to tell it when that actor stops for good; that node sends `down` with the actor's own
 * exit reason (`genesis.down.<watching node>`) — or at once, as a crash with ActorStoppedError,
 * if no actor lives at that path. A node that goes down ends its watches both ways: its watched
 * actors' watchers get `'nodedown'`, and the watches it asked for are forgotten.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ExitReason } from '../core/actor.js';
import type { ActorRef, RemoteWatcher } from '../core/ref.js';
import type { Listen } from './listen.js';
import { isNodeName } from './options.js';
import { decode, downSubject, encode, errorFromWire, errorToWire, type WireError, watchSubject } from './wire.js';

/** What remote watches need of their node. */
export interface WatchHost {
  readonly log: Logger;
  /**
   * Calls `onDown` once the actor at `path` here stops for good, and returns the function that
   * stops watching; or, when no actor lives there, returns at once why.
   */
  watchLocal(path: string, onDown: (reason: ExitReason) => void): (() => void) | ExitReason;
}

/**
 * A watch request: [watching node, path, 1 (watch) or 0 (no longer)], or [node, '', 2]: "send your
 * watches of my actors again" (that node was down for me a while, and I forgot them).
 */
type WatchRequest = [string, string, 0 | 1 | 2];
/** A down: [the watched actor's node, its path, its exit reason]. */
type Down = [string, string, 'normal' | 'shutdown' | { error: WireError }];

export class RemoteWatches {
  /** Watches of actors on other nodes: node → path → watcher → the ref watched. */
  private readonly watching = new Map<string, Map<string, Map<RemoteWatcher, ActorRef>>>();
  /** Actors here watched from other nodes: watching node → path → stop watching. */
  private readonly watchedFor = new Map<string, Map<string, () => void>>();

  constructor(
    private readonly node: string,
    private readonly nc: NatsConnection,
    private readonly host: WatchHost,
  ) {}

  serve(listen: Listen): Subscription[] {
    return [listen(watchSubject(this.node), (msg) => this.onWatch(msg)), listen(downSubject(this.node), (msg) => this.onDown(msg))];
  }

  /** `watcher` gets `down` once the actor at `path` on `node` stops for good, or its node is down. */
  watch(node: string, path: string, watcher: RemoteWatcher, ref: ActorRef): void {
    let byPath = this.watching.get(node);
    if (byPath === undefined) this.watching.set(node, (byPath = new Map()));
    let watchers = byPath.get(path);
    if (watchers === undefined) {
      byPath.set(path, (watchers = new Map()));
      this.send(watchSubject(node), [this.node, path, 1] satisfies WatchRequest);
    }
    watchers.set(watcher, ref);
  }

  unwatch(node: string, path: string, watcher: RemoteWatcher): void {
    const byPath = this.watching.get(node);
    const watchers = byPath?.get(path);
    if (watchers === undefined || !watchers.delete(watcher) || watchers.size > 0) return;
    byPath!.delete(path);
    this.send(watchSubject(node), [this.node, path, 0] satisfies WatchRequest);
  }

  /** `node` is down: its watched actors' watchers get 'nodedown'; the watches it asked for here end. */
  nodeDown(node: string): void {
    const byPath = this.watching.get(node);
    if (byPath !== undefined) {
      this.watching.delete(node);
      for (const watchers of byPath.values()) this.signal(watchers, 'nodedown');
    }
    const served = this.watchedFor.get(node);
    if (served !== undefined) {
      this.watchedFor.delete(node);
      for (const stop of served.values()) stop();
    }
  }

  /**
   * `node` is up (first heard, or again after it was down here): the watches it had asked for
   * here were forgotten when it went down, so it is asked to send them again.
   */
  nodeUp(node: string): void {
    this.send(watchSubject(node), [this.node, '', 2] satisfies WatchRequest);
  }

  /** Drops watchers that have stopped themselves (they left no unwatch), and the watches nobody here needs. */
  sweep(): void {
    for (const [node, byPath] of this.watching) {
      for (const [path, watchers] of byPath) {
        for (const watcher of watchers.keys()) if (!watcher.isAlive) watchers.delete(watcher);
        if (watchers.size > 0) continue;
        byPath.delete(path);
        this.send(watchSubject(node), [this.node, path, 0] satisfies WatchRequest);
      }
      if (byPath.size === 0) this.watching.delete(node);
    }
  }

  private signal(watchers: Map<RemoteWatcher, ActorRef>, reason: ExitReason | 'nodedown'): void {
    for (const [watcher, ref] of watchers) if (watcher.isAlive) watcher.signal({ type: 'down', ref, reason });
  }

  private send(subject: string, payload: unknown): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(subject, encode(payload));
    } catch (error) {
      this.host.log.debug({ err: error, subject }, 'watch message not sent (connection closing)');
    }
  }

  /** Another node watches (or no longer watches) an actor here. */
  private onWatch(msg: Msg): void {
    const [from, path, on] = decode(msg.data) as WatchRequest; // a throw: dropped, logged (listen)
    if (!isNodeName(from) || typeof path !== 'string' || (on !== 0 && on !== 1 && on !== 2)) throw new TypeError('not a watch request');
    if (on === 2) {
      for (const watched of this.watching.get(from)?.keys() ?? []) this.send(watchSubject(from), [this.node, watched, 1] satisfies WatchRequest);
      return;
    }
    let byPath = this.watchedFor.get(from);
    if (on === 0) {
      byPath?.get(path)?.();
      byPath?.delete(path);
      return;
    }
    if (byPath?.has(path)) return;
    const tell = (reason: ExitReason) => {
      this.watchedFor.get(from)?.delete(path);
      this.send(downSubject(from), [this.node, path, reasonToWire(reason)] satisfies Down);
    };
    const stop = this.host.watchLocal(path, tell);
    if (typeof stop !== 'function') {
      tell(stop);
      return;
    }
    if (byPath === undefined) this.watchedFor.set(from, (byPath = new Map()));
    byPath.set(path, stop);
  }

  /** An actor of another node this node watches has stopped for good. */
  private onDown(msg: Msg): void {
    const [node, path, reason] = decode(msg.data) as Down; // a throw: dropped, logged (listen)
    const byPath = this.watching.get(node);
    const watchers = byPath?.get(path as string);
    if (watchers === undefined) return;
    byPath!.delete(path);
    this.signal(watchers, reasonFromWire(reason));
  }
}

/** Total: whatever arrives, a valid exit reason comes out. */
function reasonFromWire(reason: unknown): ExitReason {
  if (reason === 'normal' || reason === 'shutdown') return reason;
  const error = reason !== null && typeof reason === 'object' && 'error' in reason ? reason.error : reason;
  return { error: errorFromWire(error) };
}

function reasonToWire(reason: ExitReason): Down[2] {
  return typeof reason === 'string' ? reason : { error: errorToWire(reason.error) };
}
