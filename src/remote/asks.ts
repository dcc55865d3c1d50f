/**
 * Asks across nodes, both sides. Asking: one subscription for every reply (`<inbox>.<id>`), not
 * nc.request's per-ask machinery (a token, a timer, a race and stack-captured errors per ask);
 * the caller's own timer is the only deadline; a node found down fails the ask at once; the
 * caller's signal cancels it on the other node too. Answering: the ask is made of the local actor
 * with the caller's deadline and priority, and the reply carries the value or the error (by
 * `code`), with the actor's breaker state.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { DEFAULT_PRIORITY } from '../core/mailbox.js';
import { type ActorRef, type AskOptions, askOptionsRead, readAskOptions } from '../core/ref.js';
import type { BreakerState } from '../resilience/breaker.js';
import { ActorStoppedError, ConfigError, GenesisError, MessageTooLargeError, NodeDownError, SystemStoppedError, TimeoutError } from '../util/errors.js';
import type { Listen } from './listen.js';
import { cancelSubject, decode, encode, errorFromWire, errorToWire, nodeActorsSubject, pathOfSubject, type WireError } from './wire.js';

/**
 * A request: [message, priority, timeoutMs, cancel id (0: the caller cannot cancel)] (with the
 * asking node after a cancel id); a reply: [0, value, breaker state] or [1, error, breaker state]
 * (the state: the target's breaker's, or null).
 */
type AskRequest = [unknown, number, number, number];
type AskReply = [0, unknown, BreakerState | null] | [1, WireError, BreakerState | null];
/** A cancellation: [the asking node, its cancel id, the reason its caller gave up]. */
type Cancel = [string, number, WireError];

/** What an ask needs of the ref's target on another node. */
export interface AskTarget {
  readonly node: string;
  readonly path: string;
  readonly subject: string;
  /** Asks in flight to it (its load). */
  pending: number;
  /** A reply told its breaker's state. */
  sawBreaker(state: BreakerState | null): void;
}

/** What remote asks need of their node. */
export interface AsksHost {
  readonly name: string;
  readonly log: Logger;
  /** Default ask timeout (ms). */
  readonly askTimeoutMs: number;
  lookup(path: string): ActorRef | undefined;
  remainingDeadline(): number | undefined;
  isOpen(): boolean;
  isDown(node: string): boolean;
  /** `whenDown` once `node` is down, unless the returned function is called first. */
  onDown(node: string, whenDown: () => void): () => void;
  /** Sends the tells queued for `node` (an ask must not overtake them). */
  flushTells(node: string): void;
  /** MessageTooLargeError unless `bytes` for `path` fit in one NATS message. */
  checkSize(path: string, bytes: number): void;
}

export class RemoteAsks {
  /** Asks from other nodes being handled here (shutdown waits for their replies). */
  private readonly serving = new Set<Promise<void>>();
  /** Asks from other nodes that their callers may cancel: `node:id` → the ask's abort. */
  private readonly cancellable = new Map<string, AbortController>();
  /** The id of the next ask from here that its caller may cancel. */
  private nextCancelId = 1;
  /** Replies to this node's asks come to `<replyPrefix><id>`. */
  private readonly replyPrefix = `${createInbox()}.`;
  /** Asks waiting for their reply, by id (undefined: the connection closed). */
  private readonly replies = new Map<string, (msg: Msg | undefined) => void>();
  private nextReply = 0;

  constructor(
    private readonly node: string,
    private readonly nc: NatsConnection,
    private readonly host: AsksHost,
  ) {}

  /** Serves asks to this node's actors and their cancellations; the reply subscription lasts until the drain. */
  serve(listen: Listen): Subscription[] {
    listen(`${this.replyPrefix}*`, (msg) => this.replies.get(msg.subject.slice(this.replyPrefix.length))?.(msg));
    // Closed (drained by close(), or lost for good): the asks still waiting fail now.
    void this.nc.closed().then(() => {
      for (const settle of [...this.replies.values()]) settle(undefined);
    });
    return [listen(nodeActorsSubject(this.node), (msg) => this.onAsk(msg)), listen(cancelSubject(this.node), (msg) => this.onCancel(msg))];
  }

  /** Settles once the asks from other nodes being answered here are answered. */
  async answered(): Promise<void> {
    await Promise.allSettled([...this.serving]);
  }

  /** An ask from another node, to a local actor. */
  private onAsk(msg: Msg): void {
    const path = pathOfSubject(msg.subject);
    if (msg.reply === undefined || msg.reply === '') {
      this.host.log.warn({ path }, 'a message without a reply subject on an actor subject dropped');
      return;
    }
    const served = this.answer(msg, path);
    this.serving.add(served);
    void served.finally(() => this.serving.delete(served));
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
      this.host.checkSize(path, data.byteLength);
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

  /**
   * An ask to another node: request/reply with the caller's deadline (the remote handler
   * sees it too), a node found down failing it at once, and the caller's signal cancelling it on
   * the other node as well. Never throws.
   */
  ask(target: AskTarget, message: unknown, options: AskOptions | undefined): Promise<unknown> {
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
      if (!this.host.isOpen()) throw new SystemStoppedError(this.host.name);
      if (this.host.isDown(target.node)) throw new NodeDownError(target.node, target.path);
      // Asked while answering an ask: no longer than that ask's caller waits.
      const left = this.host.remainingDeadline();
      if (left !== undefined) {
        if (left <= 0) throw new TimeoutError(target.path, 0);
        if (left < timeoutMs) timeoutMs = left;
      }
      if (signal !== undefined) cancelId = this.nextCancelId++;
      data = encode(cancelId === 0 ? ([message, priority, timeoutMs, 0] satisfies AskRequest) : [message, priority, timeoutMs, cancelId, this.node]);
      this.host.checkSize(target.path, data.byteLength);
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
      const forget = this.host.onDown(node, () => finish(new NodeDownError(node, path)));
      // The caller's deadline is the caller's: its own timer, whatever the network does.
      const timer = setTimeout(() => finish(new TimeoutError(path, timeoutMs)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.host.flushTells(node); // the tells made before this ask arrive before it
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
        finish(!this.host.isOpen() ? new SystemStoppedError(this.host.name) : error);
      }
    });
  }

  private publishSafely(subject: string, data: Uint8Array): void {
    if (!this.host.isOpen()) return;
    try {
      this.nc.publish(subject, data);
    } catch (error) {
      this.host.log.debug({ err: error, subject }, 'not sent (connection closing)');
    }
  }
}
