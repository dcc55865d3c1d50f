/**
 * ActorRef: the handle others hold to an actor. It reaches the actor through a `Target` — the
 * small interface a local cell implements today and a remote actor can implement later (as
 * Proto.Actor's PID reaches its Process). A local cell lives as long as its actor, across its
 * restarts and its parents' restarts, so a ref stays valid while the actor lives.
 */
import { ConfigError } from '../util/errors.js';
import { DEFAULT_PRIORITY, PRIORITIES } from './mailbox.js';

export interface TellOptions {
  /** 0 (highest) … 4 (lowest); default 2. */
  priority?: number;
}

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
  /** Enqueues a tell; false when refused (it went to dead letters). */
  send(message: unknown, priority: number): boolean;
  /** An ask from whoever is running now (an actor's handler, or the host). */
  askFromHere(message: unknown, options: AskOptions | undefined): Promise<unknown>;
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

/** Tell options: an object with `priority` only (a typo is refused, not ignored). */
export function checkTellOptions(options: TellOptions): number {
  if (typeof options !== 'object' || options === null) throw new ConfigError('tell options', `must be an object (got ${String(options)})`);
  for (const key in options) if (key !== 'priority') throw new ConfigError(`tell options.${key}`, 'unknown option (expected: priority)');
  return checkPriority(options);
}

const inspect = Symbol.for('nodejs.util.inspect.custom');

export class ActorRef<M = unknown> {
  /** @internal The actor behind this ref. */
  readonly target: Target;

  /** @internal Refs are made by the system; use spawn or lookup. */
  constructor(target: Target) {
    this.target = target;
  }

  get path(): string {
    return this.target.path;
  }

  get name(): string {
    return this.target.name;
  }

  /** True until the actor has stopped for good. */
  get alive(): boolean {
    return this.target.isAlive;
  }

  /**
   * Enqueues `message`; returns false when it was not accepted (actor stopped, mailbox full),
   * in which case it went to dead letters. Never runs the receiver in the caller's stack.
   */
  tell(message: M, options?: TellOptions): boolean {
    return this.target.send(message, options === undefined ? DEFAULT_PRIORITY : checkTellOptions(options));
  }

  /** Sends `message` and resolves with the reply; always ends, with a reply or a typed error. */
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
