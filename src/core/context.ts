/**
 * ActorContext: the `ctx` of one incarnation of an actor. It forwards to the actor's cell while
 * that incarnation lives. A handler that outlives its incarnation — killed after `shutdownMs`,
 * then resuming anyway — keeps its old ctx, which then does nothing harmful: no reply to the next
 * incarnation's ask, no spawn, no stop, no snapshot. One object per incarnation, not per message.
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
    if (!this.current) return Promise.reject(this.ended('ask'));
    return this.cell.ask<R, T>(ref, message, options);
  }

  reply(value: unknown): boolean {
    return this.current && this.cell.reply(value);
  }

  deferReply(): DeferredReply {
    if (!this.current) throw this.ended('deferReply');
    return this.cell.deferReply();
  }

  publish(topic: string, data: unknown, options?: TellOptions): void {
    if (this.current) this.cell.publish(topic, data, options);
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
