/**
 * Actor definitions: `defineActor` turns a plain object of handlers into a validated, frozen
 * Behavior, and the types an actor's handlers see (Context, signals, exit reasons).
 */
import type { Logger } from 'pino';
import { ConfigError } from '../util/errors.js';
import type { ActorEvent } from './events.js';
import { isAsyncFunction } from './handler-scope.js';
import type { ActorRef, AskOptions, TellOptions } from './ref.js';
import type { ChildOptions } from './spec.js';

export type { AskOptions, TellOptions } from './ref.js';

/**
 * Why an actor stopped: a normal exit, a shutdown by its parent or the system, or a crash.
 *
 * @example
 * ```ts
 * const Worker = defineActor<null, string>({
 *   receive() {},
 *   terminate: (_state, reason, ctx) => ctx.log.info({ crashed: typeof reason === 'object' }, 'stopped'),
 * });
 * ```
 */
export type ExitReason = 'normal' | 'shutdown' | { error: unknown };

/**
 * What `onSignal` gets once an actor watched with `ctx.watch(ref)` has stopped for good (never
 * on a restart; at once if it was already dead).
 *
 * @example
 * ```ts
 * const Watcher = defineActor<null, ActorRef>({
 *   receive: (_state, ref, ctx) => ctx.watch(ref),
 *   onSignal: (_state, down, ctx) => ctx.log.warn({ path: down.ref.path, reason: down.reason }, 'down'),
 * });
 * ```
 */
export interface DownSignal {
  type: 'down';
  /** The actor that stopped. */
  ref: ActorRef;
  /** Why it stopped; `'nodedown'`: the node of a remote actor went silent or shut down. */
  reason: ExitReason | 'nodedown';
}

/**
 * The signals `onSignal` receives, told apart by `type` (today only `'down'`).
 *
 * @example
 * ```ts
 * const lost = (signal: Signal) => signal.type === 'down' && typeof signal.reason === 'object';
 * ```
 */
/** The system mode changed (delivered to every actor's onSignal). */
export interface ModeSignal {
  type: 'mode';
  from: string;
  to: string;
  reason: string;
}

export type Signal = DownSignal | ModeSignal;

/**
 * Options of `system.publish`: the priority of the delivered events and the publisher, which
 * does not get its own event.
 *
 * @example
 * ```ts
 * system.publish('market.BTC.trade', { price: 97_000 }, { source: feed, priority: 1 });
 * ```
 */
export interface PublishOptions extends TellOptions {
  /** Path (or ref) of the publisher; that actor does not receive its own event. */
  source?: string | ActorRef;
}

/**
 * Answers an ask later: `const reply = ctx.deferReply(); …; reply(value)` or `reply.fail(error)`.
 * Each returns false when the ask had already ended (answered, timed out, given up).
 *
 * @example
 * ```ts
 * const Forwarder = defineActor<null, Msg>({
 *   receive(_state, msg, ctx) {
 *     const reply = ctx.deferReply();   // the handler ends, the ask stays open
 *     counter.ask(msg).then(reply, reply.fail);
 *   },
 * });
 * ```
 */
export interface DeferredReply {
  (value: unknown): boolean;
  /** Rejects the ask with `error`. */
  fail(error: unknown): boolean;
}

/**
 * Options of `system.spawn` and `ctx.spawn`: a child's options plus its name and, for
 * `system.spawn`, its parent.
 *
 * @example
 * ```ts
 * const ref = system.spawn(Counter, { name: 'counter', parent: root, mailbox: { capacity: 1_000 } });
 * ```
 */
export interface SpawnOptions<A = unknown> extends ChildOptions<A> {
  /** Unique among the parent's children; default a generated `$<n>`. */
  name?: string;
  /** Spawn as a child of this actor (which supervises it) instead of at the top level. */
  parent?: ActorRef;
}

/**
 * What a handler gets as `ctx`: the actor's own ref and place, and what it may do — spawn,
 * tell, ask, reply, publish, watch, stop, snapshot. One per incarnation: a handler that outlives
 * its incarnation (killed after `shutdownMs`) finds its old ctx inert.
 *
 * @example
 * ```ts
 * const Greeter = defineActor<number, string>({
 *   init: () => 0,
 *   receive(count, name, ctx) {
 *     ctx.log.info({ from: ctx.path }, `hello ${name}`);
 *     ctx.reply(count + 1);   // answers an ask; false for a tell
 *     return count + 1;
 *   },
 * });
 * ```
 */
export interface Context<M = unknown> {
  /** This actor's ref, typed by its messages. */
  readonly self: ActorRef<M>;
  /** The parent actor, or null at the top level. */
  readonly parent: ActorRef | null;
  readonly path: string;
  readonly name: string;
  /** A pino child logger bound to this actor's path. */
  readonly log: Logger;
  /** The system mode: 'normal', 'preSafe', 'safe', 'emergency', 'recovery' or 'latency'. */
  readonly mode: string;
  /**
   * The AbortSignal of the ask being handled (undefined for a tell): it aborts when the asker
   * gives up, its deadline passes, or a hedge no longer needs this attempt — pass it to I/O so
   * that work nobody waits for stops. Asks made on behalf of this one are given up with it.
   */
  readonly signal: AbortSignal | undefined;
  /** When (system clock ms) the asker of the ask being handled stops waiting; undefined for a tell. */
  readonly deadline: number | undefined;
  /** A live actor by path, like system.lookup (refs survive restarts, so looking up once is enough). */
  lookup(path: string): ActorRef | undefined;
  /** Spawns a child of this actor, supervised by it (one-for-one); it ends with this incarnation. */
  spawn<S, CM, A>(behavior: Behavior<S, CM, A>, options?: Omit<SpawnOptions<A>, 'parent'>): ActorRef<CM>;
  /** `ref.tell(message, options)`. */
  tell<T>(ref: ActorRef<T>, message: T, options?: TellOptions): boolean;
  /**
   * An ask from this actor: deadlock-checked against the actors it waits on.
   *
   * @example
   * ```ts
   * const total = await ctx.ask<number, Msg>(counter, { type: 'get' }, { timeoutMs: 500 });
   * ```
   */
  ask<R = unknown, T = unknown>(ref: ActorRef<T>, message: T, options?: AskOptions): Promise<R>;
  /** Answers the ask being handled; false when there is none (a tell) or it has ended. */
  reply(value: unknown): boolean;
  /** Takes over the ask being handled, to answer it after this handler has finished. */
  deferReply(): DeferredReply;
  /** Publishes an event from this actor (which does not get it back). */
  publish(topic: string, data: unknown, options?: TellOptions): void;
  /** Events on topics matching `topic` (`*`: one segment, `**`: any number) go to `onEvent`. */
  subscribe(topic: string): void;
  /** Ends a subscription; false when there was none. */
  unsubscribe(topic: string): boolean;
  /** Delivers `{ type: 'down' }` to onSignal when `ref` stops for good (at once if it already has). */
  watch(ref: ActorRef): void;
  /** Stops watching `ref`: no `down` signal for it. */
  unwatch(ref: ActorRef): void;
  /** Stops this actor normally once the current handler has finished. */
  stop(): void;
  /** Snapshots the state now, or after the current handler (with its new state); resolves with
   *  the snapshot's seq once it is committed (-1 if the write failed). */
  snapshotNow(): Promise<number>;
}

type Awaitable<T> = T | Promise<T>;

/**
 * The handlers of an actor, given to `defineActor`: `S` is its state, `M` its messages, `A` the
 * `args` its `init` takes. Each handler may be async: a promise holds the mailbox until it settles.
 *
 * @example
 * ```ts
 * const definition: ActorDefinition<number, Msg, { start: number }> = {
 *   init: (args) => args.start,
 *   receive: (total, msg) => (msg.type === 'add' ? total + msg.n : total),
 * };
 * const Counter = defineActor(definition);
 * ```
 */
export interface ActorDefinition<S, M, A = unknown> {
  /** Schema version of the state, stored with snapshots (default 1). */
  version?: number;
  /** Builds the initial state (default: undefined). An async init holds the mailbox until it settles. */
  init?(args: A, ctx: Context<M>): Awaitable<S>;
  /** Handles one message; returns the new state, or nothing to keep it. */
  receive?(state: S, message: M, ctx: Context<M>): Awaitable<S | void>;
  /** When present, consecutive tells of one priority arrive here in batches of up to `batchSize`. */
  receiveBatch?(state: S, messages: M[], ctx: Context<M>): Awaitable<S | void>;
  /** Handles a pub/sub event on a topic this actor subscribed to. */
  onEvent?(state: S, event: ActorEvent, ctx: Context<M>): Awaitable<S | void>;
  /** Handles a signal: a watched actor's `down`. */
  onSignal?(state: S, signal: Signal, ctx: Context<M>): Awaitable<S | void>;
  /** Runs when an incarnation whose init completed ends (within its `shutdownMs`). */
  terminate?(state: S, reason: ExitReason, ctx: Context<M>): Awaitable<void>;
  /** Upgrades the state of a snapshot written by an older `version`. */
  migrate?(oldState: unknown, fromVersion: number): S;
}

const BEHAVIOR = Symbol.for('genesis.behavior');
/** Which handlers are `async` functions (bits below): those run tracked across their awaits. */
export const ASYNC_HANDLERS = Symbol('genesis.asyncHandlers');
export const enum Handler {
  Init = 1,
  Receive = 2,
  ReceiveBatch = 4,
  OnEvent = 8,
  OnSignal = 16,
}

/**
 * An actor definition validated and frozen by `defineActor`: what `spawn`, `child` and `pool`
 * take. Its type parameters carry the state, message and args types to the refs and options.
 *
 * @example
 * ```ts
 * const Echo: Behavior<null, string> = defineActor<null, string>({
 *   receive: (_state, text, ctx) => void ctx.reply(text),
 * });
 * const echo: ActorRef<string> = system.spawn(Echo);
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: the defaults make Behavior (unparametrised) accept every behavior
export interface Behavior<S = any, M = any, A = any> extends Readonly<ActorDefinition<S, M, A>> {
  readonly version: number;
  readonly [BEHAVIOR]: true;
  readonly [ASYNC_HANDLERS]: number;
}

const HANDLERS = ['init', 'receive', 'receiveBatch', 'onEvent', 'onSignal', 'terminate', 'migrate'] as const;

/**
 * Turns a plain object of handlers into a Behavior. Throws ConfigError for a definition without
 * `receive` or `receiveBatch`, a handler that is not a function, or a `version` that is not a
 * positive integer. `S`, `M` and `A` are inferred from the handlers when not given.
 *
 * @example
 * ```ts
 * type Msg = { type: 'add'; n: number } | { type: 'get' };
 * const Counter = defineActor<number, Msg>({
 *   init: () => 0,
 *   receive(total, msg, ctx) {
 *     if (msg.type === 'add') return total + msg.n;   // the new state
 *     ctx.reply(total);                                // answers an ask; returning nothing keeps the state
 *   },
 * });
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: args default to any so that init may leave them untyped
export function defineActor<S, M = unknown, A = any>(definition: ActorDefinition<S, M, A>): Behavior<S, M, A> {
  if (definition === null || typeof definition !== 'object') {
    throw new ConfigError('defineActor(definition)', `must be an object of handlers (got ${definition})`);
  }
  for (const key of HANDLERS) {
    const handler = definition[key];
    if (handler !== undefined && typeof handler !== 'function') {
      throw new ConfigError(`defineActor: ${key}`, `must be a function (got ${typeof handler})`);
    }
  }
  if (!definition.receive && !definition.receiveBatch) {
    throw new ConfigError('defineActor: receive', 'an actor needs receive or receiveBatch');
  }
  const version = definition.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigError('defineActor: version', `must be a positive integer (got ${definition.version})`);
  }
  const asyncHandlers =
    (isAsyncFunction(definition.init) ? Handler.Init : 0) |
    (isAsyncFunction(definition.receive) ? Handler.Receive : 0) |
    (isAsyncFunction(definition.receiveBatch) ? Handler.ReceiveBatch : 0) |
    (isAsyncFunction(definition.onEvent) ? Handler.OnEvent : 0) |
    (isAsyncFunction(definition.onSignal) ? Handler.OnSignal : 0);
  return Object.freeze({ ...definition, version, [BEHAVIOR]: true as const, [ASYNC_HANDLERS]: asyncHandlers });
}

/**
 * True for a Behavior made by `defineActor` (of this or another copy of the package).
 *
 * @example
 * ```ts
 * isBehavior(Counter);             // true
 * isBehavior({ receive() {} });    // false: not made by defineActor
 * ```
 */
export function isBehavior(value: unknown): value is Behavior {
  return typeof value === 'object' && value !== null && (value as Behavior)[BEHAVIOR] === true;
}

/**
 * Behaviors of the runtime's own actors (supervisors, pools): they run whatever the system mode,
 * like essential actors, since the actors they serve need them.
 */
export const RUNTIME_BEHAVIORS = new WeakSet<Behavior>();
