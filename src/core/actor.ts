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

/** Why an actor stopped: a normal exit, a shutdown by its parent or the system, or a crash. */
export type ExitReason = 'normal' | 'shutdown' | { error: unknown };

export interface DownSignal {
  type: 'down';
  ref: ActorRef;
  reason: ExitReason;
}

export type Signal = DownSignal;

export interface PublishOptions extends TellOptions {
  /** Path (or ref) of the publisher; that actor does not receive its own event. */
  source?: string | ActorRef;
}

/** Answers an ask later: `const reply = ctx.deferReply(); …; reply(value)` or `reply.fail(error)`. */
export interface DeferredReply {
  (value: unknown): boolean;
  fail(error: unknown): boolean;
}

export interface SpawnOptions<A = unknown> extends ChildOptions<A> {
  /** Unique among the parent's children; default a generated `$<n>`. */
  name?: string;
  /** Spawn as a child of this actor (which supervises it) instead of at the top level. */
  parent?: ActorRef;
}

/** What a handler gets as `ctx`. */
export interface Context<M = unknown> {
  readonly self: ActorRef<M>;
  /** The parent actor, or null at the top level. */
  readonly parent: ActorRef | null;
  readonly path: string;
  readonly name: string;
  /** A pino child logger bound to this actor's path. */
  readonly log: Logger;
  /** The system mode ('normal' until modes are escalated). */
  readonly mode: string;
  /** A live actor by path, like system.lookup (refs survive restarts, so looking up once is enough). */
  lookup(path: string): ActorRef | undefined;
  spawn<S, CM, A>(behavior: Behavior<S, CM, A>, options?: Omit<SpawnOptions<A>, 'parent'>): ActorRef<CM>;
  tell<T>(ref: ActorRef<T>, message: T, options?: TellOptions): boolean;
  /** An ask from this actor: deadlock-checked against the actors it waits on. */
  ask<R = unknown, T = unknown>(ref: ActorRef<T>, message: T, options?: AskOptions): Promise<R>;
  /** Answers the ask being handled; false when there is none (a tell) or it has ended. */
  reply(value: unknown): boolean;
  /** Takes over the ask being handled, to answer it after this handler has finished. */
  deferReply(): DeferredReply;
  publish(topic: string, data: unknown, options?: TellOptions): void;
  subscribe(topic: string): void;
  unsubscribe(topic: string): boolean;
  /** Delivers `{ type: 'down' }` to onSignal when `ref` stops for good (at once if it already has). */
  watch(ref: ActorRef): void;
  unwatch(ref: ActorRef): void;
  /** Stops this actor normally once the current handler has finished. */
  stop(): void;
  /** Snapshots the state now, or after the current handler (with its new state); resolves with
   *  the snapshot's seq once it is committed (-1 if the write failed). */
  snapshotNow(): Promise<number>;
}

type Awaitable<T> = T | Promise<T>;

export interface ActorDefinition<S, M, A = unknown> {
  /** Schema version of the state, stored with snapshots (default 1). */
  version?: number;
  /** Builds the initial state (default: undefined). An async init holds the mailbox until it settles. */
  init?(args: A, ctx: Context<M>): Awaitable<S>;
  /** Handles one message; returns the new state, or nothing to keep it. */
  receive?(state: S, message: M, ctx: Context<M>): Awaitable<S | void>;
  /** When present, consecutive tells of one priority arrive here in batches of up to `batchSize`. */
  receiveBatch?(state: S, messages: M[], ctx: Context<M>): Awaitable<S | void>;
  onEvent?(state: S, event: ActorEvent, ctx: Context<M>): Awaitable<S | void>;
  onSignal?(state: S, signal: Signal, ctx: Context<M>): Awaitable<S | void>;
  terminate?(state: S, reason: ExitReason, ctx: Context<M>): Awaitable<void>;
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

export interface Behavior<S = any, M = any, A = any> extends Readonly<ActorDefinition<S, M, A>> {
  readonly version: number;
  readonly [BEHAVIOR]: true;
  readonly [ASYNC_HANDLERS]: number;
}

const HANDLERS = ['init', 'receive', 'receiveBatch', 'onEvent', 'onSignal', 'terminate', 'migrate'] as const;

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

export function isBehavior(value: unknown): value is Behavior {
  return typeof value === 'object' && value !== null && (value as Behavior)[BEHAVIOR] === true;
}
