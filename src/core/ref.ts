/**
 * ActorRef: the handle others hold to an actor. It reaches the actor through a `Target` — the
 * small interface a local cell implements today and a remote actor can implement later (as
 * Proto.Actor's PID reaches its Process). A local cell lives as long as its actor, across its
 * restarts and its parents' restarts, so a ref stays valid while the actor lives.
 */
import type { BreakerState } from '../resilience/breaker.js';
import { ConfigError } from '../util/errors.js';
import { checkObject, isAbortSignal, knownKeys, positiveNumber } from '../util/options.js';
import { DEFAULT_PRIORITY, PRIORITIES } from './mailbox.js';

/**
 * Options of `tell` (and of `publish`). A key other than `priority` is a ConfigError: a typo is
 * refused, not ignored.
 *
 * @example
 * ```ts
 * counter.tell({ type: 'add', n: 1 }, { priority: 0 });   // handled before priorities 1 … 4
 * ```
 */
export interface TellOptions {
  /** 0 (highest) … 4 (lowest); default 2. */
  priority?: number;
}

/**
 * Options of `ask`. Bad options (`null`, unknown keys, a `signal` that is not an AbortSignal)
 * reject the ask with ConfigError; `ask` never throws.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const options: AskOptions = { timeoutMs: 1_000, priority: 1, signal: controller.signal };
 * const total = await counter.ask<number>({ type: 'get' }, options);   // controller.abort() ends it
 * ```
 */
export interface AskOptions extends TellOptions {
  /** Reject with TimeoutError after this long (default: the system's askTimeoutMs, 5000). */
  timeoutMs?: number;
  /** Abort the ask: it rejects with the signal's reason (never counted against the target). */
  signal?: AbortSignal;
}

/** What a ref needs of the actor behind it: where it is, whether it lives, and delivery. */
export interface Target {
  readonly path: string;
  readonly name: string;
  /** Not yet stopped for good. */
  readonly isAlive: boolean;
  /** Takes new messages (not stopping or stopped). */
  readonly isActive: boolean;
  /** Messages waiting in its mailbox, plus one being handled asynchronously: a router reads it as its load. */
  readonly load: number;
  /** Its breaker's state, once it has one (routers skip an open one). */
  readonly breakerState: BreakerState | undefined;
  /** Enqueues a tell; false when refused (it went to dead letters). */
  send(message: unknown, priority: number): boolean;
  /** An ask from whoever is running now (an actor's handler, or the host). */
  askFromHere(message: unknown, options: AskOptions | undefined): Promise<unknown>;
  /** A target of another node: `watcher` gets `down` (as `ref`) once it is gone. */
  watchBy?(watcher: RemoteWatcher, ref: ActorRef): void;
  unwatchBy?(watcher: RemoteWatcher): void;
}

/** An actor watching a target of another node. */
export interface RemoteWatcher {
  readonly isAlive: boolean;
  /** A DownSignal (written out here: actor.ts imports this file). */
  signal(signal: { type: 'down'; ref: ActorRef; reason: 'nodedown' | 'normal' | 'shutdown' | { error: unknown } }): void;
}

/** The priority in tell/ask/publish options (validated); other keys are checked by the caller. */
export function checkPriority(options: TellOptions): number {
  const priority = options.priority;
  if (priority === undefined) return DEFAULT_PRIORITY;
  if (!Number.isInteger(priority) || priority < 0 || priority >= PRIORITIES) {
    throw new ConfigError('priority', `must be an integer from 0 (highest) to ${PRIORITIES - 1} (got ${priority})`);
  }
  return priority;
}

const ASK_KEYS = ['timeoutMs', 'priority', 'signal'];

/**
 * What `readAskOptions` read. Module-level rather than a new object per ask: the runtime is
 * single-threaded and callers copy the three fields right after the call (asks are a hot path).
 */
export const askOptionsRead: { timeoutMs: number; priority: number; signal: AbortSignal | undefined } = {
  timeoutMs: 0,
  priority: DEFAULT_PRIORITY,
  signal: undefined,
};

/**
 * Validates ask options (ConfigError naming the key) into `askOptionsRead`, `defaultTimeoutMs`
 * when none is given. Local and remote asks read them alike.
 */
export function readAskOptions(options: AskOptions | undefined, defaultTimeoutMs: number): void {
  const read = askOptionsRead;
  read.timeoutMs = defaultTimeoutMs;
  read.priority = DEFAULT_PRIORITY;
  read.signal = undefined;
  if (options === undefined) return;
  checkObject('ask options', options);
  knownKeys('ask options', options, ASK_KEYS);
  if (options.timeoutMs !== undefined) read.timeoutMs = positiveNumber('timeoutMs', options.timeoutMs);
  read.priority = checkPriority(options);
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal)) throw new ConfigError('signal', 'must be an AbortSignal');
  read.signal = signal;
}

/** Tell options: an object with `priority` only (a typo is refused, not ignored). */
export function checkTellOptions(options: TellOptions): number {
  if (typeof options !== 'object' || options === null) throw new ConfigError('tell options', `must be an object (got ${String(options)})`);
  for (const key in options) if (key !== 'priority') throw new ConfigError(`tell options.${key}`, 'unknown option (expected: priority)');
  return checkPriority(options);
}

const inspect = Symbol.for('nodejs.util.inspect.custom');

/**
 * The handle to an actor, typed by the messages it takes: `tell` and `ask` it, read its path.
 * Refs are made by the system (`spawn`, `lookup`, `ctx.self`), never with `new`, and stay valid
 * across the actor's restarts and those of the supervisors above it.
 *
 * @example
 * ```ts
 * const counter: ActorRef<Msg> = system.spawn(Counter, { name: 'counter' });
 * counter.tell({ type: 'add', n: 2 });
 * const total = await counter.ask<number>({ type: 'get' });
 * console.log(counter.path, counter.alive);   // '/counter' true
 * ```
 */
export class ActorRef<M = unknown> {
  /** @internal The actor behind this ref. */
  readonly target: Target;

  /** @internal Refs are made by the system; use spawn or lookup. */
  constructor(target: Target) {
    this.target = target;
  }

  /** Where the actor sits in the tree: `/<name>` at the top level, `/<parent>/<name>` below. */
  get path(): string {
    return this.target.path;
  }

  /** The last segment of the path. */
  get name(): string {
    return this.target.name;
  }

  /** True until the actor has stopped for good. */
  get alive(): boolean {
    return this.target.isAlive;
  }

  /**
   * Its breaker's state (undefined until its first ask creates one, or with `breaker: false`); for
   * an actor on another node, the state its latest reply told, for a second. What a router reads
   * to skip an open one, as pools do.
   *
   * @example
   * ```ts
   * const usable = venues.filter((ref) => ref.alive && ref.breakerState !== 'open');
   * ```
   */
  get breakerState(): BreakerState | undefined {
    return this.target.breakerState;
  }

  /** Messages waiting in its mailbox, plus one being handled asynchronously; for an actor on another node, asks from here not yet answered. */
  get load(): number {
    return this.target.load;
  }

  /**
   * Enqueues `message`; returns false when it was not accepted (actor stopped, mailbox full),
   * in which case it went to dead letters. Never runs the receiver in the caller's stack.
   * A bad `options` (an unknown key, priority 7) throws ConfigError.
   *
   * @example
   * ```ts
   * if (!counter.tell({ type: 'add', n: 1 })) console.warn('refused: see system.deadLetters');
   * ```
   */
  tell(message: M, options?: TellOptions): boolean {
    return this.target.send(message, options === undefined ? DEFAULT_PRIORITY : checkTellOptions(options));
  }

  /**
   * Sends `message` and resolves with the reply; always ends, with a reply or a typed error
   * (TimeoutError, NoReplyError, DeadlockError, CircuitOpenError, MailboxFullError,
   * ActorStoppedError, ConfigError, or the signal's reason). `R` is the reply's type, unchecked:
   * the default `unknown` makes the caller narrow it.
   *
   * @example
   * ```ts
   * const total = await counter.ask<number>({ type: 'get' }, { timeoutMs: 1_000 });
   * const reply = await counter.ask({ type: 'get' });   // unknown
   * ```
   */
  ask<R = unknown>(message: M, options?: AskOptions): Promise<R> {
    return this.target.askFromHere(message, options) as Promise<R>;
  }

  toString(): string {
    return `ActorRef(${this.path})`;
  }

  toJSON(): string {
    return this.path;
  }

  /** `console.log(ref)` prints `ActorRef(/path)`, not the runtime behind it. */
  [inspect](): string {
    return this.toString();
  }
}
