/**
 * ActorContext: the `ctx` of one incarnation of an actor. It forwards to the actor's cell while
 * that incarnation lives. Work that outlives its incarnation — a handler killed after
 * `shutdownMs` resuming anyway, or the work for a deferred reply going on across a restart —
 * keeps its old ctx, which then does nothing to the actor: no reply to the next incarnation's
 * ask, no spawn, no stop, no subscription, no snapshot. It may still ask and publish while the
 * actor lives, as anyone outside may (so a deferred reply's work can finish: see incarnation.ts).
 * One object per incarnation, not per message.
 */
import type { Logger } from 'pino';
import { ActorStoppedError } from '../util/errors.js';
import type { AskOptions, Behavior, Context, DeferredReply, SpawnOptions, TellOptions } from './actor.js';
import type { ActorRef } from './ref.js';

/** The actor a context belongs to (its cell): what the context forwards to. */
export interface ContextHost extends Omit<Context, 'mode' | 'ask' | 'signal' | 'deadline'> {
  /** The current incarnation's number. */
  readonly epoch: number;
  /** The signal and deadline of the ask its handler is working for, if any. */
  readonly askSignal: AbortSignal | undefined;
  readonly askDeadline: number | undefined;
  readonly mode: string;
  /** Not stopping nor stopped for good. */
  readonly isActive: boolean;
  ask<R = unknown, T = unknown>(ref: ActorRef<T>, message: T, options?: AskOptions): Promise<R>;
}

export class ActorContext implements Context {
  constructor(
    /** @internal The actor (its cell). */ readonly cell: ContextHost,
    /** @internal The incarnation this context belongs to. */ readonly epoch: number,
  ) {}

  /** True while this context's incarnation is the actor's current one. */
  get current(): boolean {
    return this.cell.epoch === this.epoch;
  }

  private ended(what: string): ActorStoppedError {
    return new ActorStoppedError(this.cell.path, `${what} from an ended incarnation of ${this.cell.path}`);
  }

  get self(): ActorRef {
    return this.cell.self;
  }

  get parent(): ActorRef | null {
    return this.cell.parent;
  }

  get path(): string {
    return this.cell.path;
  }

  get name(): string {
    return this.cell.name;
  }

  get log(): Logger {
    return this.cell.log;
  }

  get signal(): AbortSignal | undefined {
    return this.current ? this.cell.askSignal : undefined;
  }

  get deadline(): number | undefined {
    return this.current ? this.cell.askDeadline : undefined;
  }

  get mode(): string {
    return this.cell.mode;
  }

  lookup(path: string): ActorRef | undefined {
    return this.cell.lookup(path);
  }

  spawn<S, CM, A>(behavior: Behavior<S, CM, A>, options?: Omit<SpawnOptions<A>, 'parent'>): ActorRef<CM> {
    if (!this.current) throw this.ended('spawn');
    return this.cell.spawn(behavior, options);
  }

  tell<T>(ref: ActorRef<T>, message: T, options?: TellOptions): boolean {
    return ref.tell(message, options);
  }

  ask<R = unknown, T = unknown>(ref: ActorRef<T>, message: T, options?: AskOptions): Promise<R> {
    if (this.current) return this.cell.ask<R, T>(ref, message, options);
    // Work left over from an ended incarnation asks as an outsider would (not as the actor's
    // handler: that one is the new incarnation's), while the actor lives.
    return this.cell.isActive ? ref.ask<R>(message, options) : Promise.reject(this.ended('ask'));
  }

  reply(value: unknown): boolean {
    return this.current && this.cell.reply(value);
  }

  deferReply(): DeferredReply {
    if (!this.current) throw this.ended('deferReply');
    return this.cell.deferReply();
  }

  publish(topic: string, data: unknown, options?: TellOptions): void {
    if (this.current || this.cell.isActive) this.cell.publish(topic, data, options);
  }

  subscribe(topic: string): void {
    if (this.current) this.cell.subscribe(topic);
  }

  unsubscribe(topic: string): boolean {
    return this.current && this.cell.unsubscribe(topic);
  }

  watch(ref: ActorRef): void {
    if (this.current) this.cell.watch(ref);
  }

  unwatch(ref: ActorRef): void {
    if (this.current) this.cell.unwatch(ref);
  }

  stop(): void {
    if (this.current) this.cell.stop();
  }

  snapshotNow(): Promise<number> {
    return this.current ? this.cell.snapshotNow() : Promise.resolve(-1);
  }
}
