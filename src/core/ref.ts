/**
 * ActorRef: the handle others hold to an actor. It points at the actor's cell, which lives as
 * long as the actor does — across restarts — so a ref stays valid while the actor lives.
 */
import type { AskOptions, TellOptions } from './actor.js';
import type { ActorCell } from './cell.js';
import { ConfigError } from '../util/errors.js';
import { DEFAULT_PRIORITY, PRIORITIES } from './mailbox.js';

/** The priority in tell/ask/publish options (validated); other keys are checked by the caller. */
export function checkPriority(options: TellOptions): number {
  const priority = options.priority;
  if (priority === undefined) return DEFAULT_PRIORITY;
  if (!Number.isInteger(priority) || priority < 0 || priority >= PRIORITIES) {
    throw new ConfigError('priority', `must be an integer from 0 (highest) to ${PRIORITIES - 1} (got ${priority})`);
  }
  return priority;
}

export class ActorRef<M = unknown> {
  /** @internal The runtime actor behind this ref. */
  readonly cell: ActorCell;

  /** @internal Refs are made by the system; use spawn or lookup. */
  constructor(cell: ActorCell) {
    this.cell = cell;
  }

  get path(): string {
    return this.cell.path;
  }

  get name(): string {
    return this.cell.name;
  }

  /** True until the actor has stopped for good. */
  get alive(): boolean {
    return this.cell.isAlive;
  }

  /**
   * Enqueues `message`; returns false when it was not accepted (actor stopped, mailbox full),
   * in which case it went to dead letters. Never runs the receiver in the caller's stack.
   */
  tell(message: M, options?: TellOptions): boolean {
    return this.cell.deliver(options === undefined ? DEFAULT_PRIORITY : checkTellOptions(options), message, undefined);
  }

  /** Sends `message` and resolves with the reply; always ends, with a reply or a typed error. */
  ask<R = unknown>(message: M, options?: AskOptions): Promise<R> {
    const system = this.cell.system;
    return system.ask(this.cell, message, options, system.current) as Promise<R>;
  }

  toString(): string {
    return `ActorRef(${this.path})`;
  }

  toJSON(): string {
    return this.path;
  }
}

/** Tell options: an object with `priority` only (a typo is refused, not ignored). */
export function checkTellOptions(options: TellOptions): number {
  if (typeof options !== 'object' || options === null) throw new ConfigError('tell options', `must be an object (got ${String(options)})`);
  for (const key in options) if (key !== 'priority') throw new ConfigError(`tell options.${key}`, 'unknown option (expected: priority)');
  return checkPriority(options);
}
