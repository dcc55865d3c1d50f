/**
 * Type-level tests of the public API: what the compiler accepts and infers. `tsc --noEmit -p .`
 * checks them (each `@ts-expect-error` line must be an error, or the typecheck fails); vitest
 * runs the same calls so that the types describe what really happens.
 */
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type ActorRef,
  ActorSystem,
  type AskOptions,
  type Behavior,
  type ChildOptions,
  ConfigError,
  type Context,
  child,
  defineActor,
  pool,
  resilient,
  supervisor,
} from '../src/index.js';

type Msg = { type: 'add'; n: number } | { type: 'get' };
type Args = { start: number };

const Counter = defineActor<number, Msg, Args>({
  init: (args) => args.start,
  receive(total, msg, ctx) {
    if (msg.type === 'add') return total + msg.n;
    ctx.reply(total);
  },
});

let system: ActorSystem;
afterEach(async () => {
  await system?.shutdown();
});

describe('ActorRef<M>', () => {
  it('tell accepts only M', async () => {
    system = await ActorSystem.start({ store: false, logger: { level: 'silent' } });
    const ref = system.spawn(Counter, { args: { start: 1 } });
    expectTypeOf(ref).toEqualTypeOf<ActorRef<Msg>>();
    expectTypeOf(ref.tell).parameter(0).toEqualTypeOf<Msg>();
    expect(ref.tell({ type: 'add', n: 2 })).toBe(true);
    // @ts-expect-error a message outside Msg
    ref.tell({ type: 'sub', n: 2 });
    // @ts-expect-error n must be a number
    ref.tell({ type: 'add', n: '2' });
    const badPriority = () =>
      // @ts-expect-error priority is a number (and a bad one is refused at run time too)
      ref.tell({ type: 'get' }, { priority: 'high' });
    expect(badPriority).toThrow(ConfigError);
  });

  it('ask<R> resolves with R (unknown by default) and checks the message', async () => {
    system = await ActorSystem.start({ store: false, logger: { level: 'silent' } });
    const ref = system.spawn(Counter, { args: { start: 40 } });
    ref.tell({ type: 'add', n: 2 });
    const untyped = ref.ask({ type: 'get' });
    expectTypeOf(untyped).toEqualTypeOf<Promise<unknown>>();
    const typed = ref.ask<number>({ type: 'get' }, { timeoutMs: 1000 });
    expectTypeOf(typed).toEqualTypeOf<Promise<number>>();
    expect(await typed).toBe(42);
    await untyped;
    expectTypeOf(ref.ask).parameter(1).toEqualTypeOf<AskOptions | undefined>();
    // @ts-expect-error a message outside Msg
    void ref.ask({ type: 'reset' }).catch(() => {});
  });
});

describe('defineActor<S, M, A>', () => {
  it('propagates state, message and args into init, receive and ctx', () => {
    const B = defineActor<string[], Msg, Args>({
      init(args, ctx) {
        expectTypeOf(args).toEqualTypeOf<Args>();
        expectTypeOf(ctx).toEqualTypeOf<Context<Msg>>();
        expectTypeOf(ctx.self).toEqualTypeOf<ActorRef<Msg>>();
        return [];
      },
      receive(state, msg, ctx) {
        expectTypeOf(state).toEqualTypeOf<string[]>();
        expectTypeOf(msg).toEqualTypeOf<Msg>();
        expectTypeOf(ctx.self).toEqualTypeOf<ActorRef<Msg>>();
        return state;
      },
    });
    expectTypeOf(B).toEqualTypeOf<Behavior<string[], Msg, Args>>();
    defineActor<number, Msg>({
      // @ts-expect-error init must return the state type
      init: () => 'zero',
      receive: () => {},
    });
    defineActor<number, Msg>({
      // @ts-expect-error receive returns the state or nothing
      receive: () => 'one',
    });
    expect(Object.isFrozen(B)).toBe(true);
  });

  it('infers S, M and A from the handlers when not given', () => {
    const Inferred = defineActor({
      init: (args: Args) => ({ total: args.start }),
      receive(state, msg: Msg, ctx) {
        expectTypeOf(state).toEqualTypeOf<{ total: number }>();
        expectTypeOf(ctx.self).toEqualTypeOf<ActorRef<Msg>>();
        if (msg.type === 'add') return { total: state.total + msg.n };
      },
    });
    expectTypeOf(Inferred).toEqualTypeOf<Behavior<{ total: number }, Msg, Args>>();
    expect(Inferred.version).toBe(1);
  });
});

describe('system.spawn and the tree declarations', () => {
  it('spawn(Behavior<S, M, A>) returns ActorRef<M> and checks args: A', async () => {
    system = await ActorSystem.start({ store: false, logger: { level: 'silent' } });
    const ref = system.spawn(Counter, { name: 'c', args: { start: 1 } });
    expectTypeOf(ref).toEqualTypeOf<ActorRef<Msg>>();
    expect(ref.path).toBe('/c');
    expect(await ref.ask({ type: 'get' })).toBe(1);
    // Compile-time only: never called.
    const rejected = () => {
      // @ts-expect-error args must be Args
      system.spawn(Counter, { args: { begin: 1 } });
      // @ts-expect-error args must be Args
      system.spawn(Counter, { args: 'one' });
    };
    expectTypeOf(rejected).toBeFunction();
  });

  it("ctx.spawn and ctx.ask keep the child's message type", () => {
    defineActor<null, { type: 'go' }>({
      receive(_state, _msg, ctx) {
        const counter = ctx.spawn(Counter, { args: { start: 0 } });
        expectTypeOf(counter).toEqualTypeOf<ActorRef<Msg>>();
        expectTypeOf(ctx.ask<number, Msg>).returns.toEqualTypeOf<Promise<number>>();
        // @ts-expect-error a message outside the child's Msg
        ctx.tell(counter, { type: 'go' });
      },
    });
  });

  it('child(name, behavior, { args }) checks args', () => {
    const spec = child('counter', Counter, { args: { start: 0 }, restart: 'transient' });
    expect(spec.kind).toBe('worker');
    // @ts-expect-error args must be Args (the spec is only declared, nothing runs)
    child('counter', Counter, { args: { start: '0' } });
    // @ts-expect-error args must be Args
    pool('counters', Counter, { size: 2, args: 7 });
    const options: ChildOptions<Args> = { args: { start: 1 } };
    expect(supervisor('s', { strategy: 'one-for-one', children: [child('c', Counter, options)] }).kind).toBe('supervisor');
  });
});

describe('resilient(fn, policy)', () => {
  it('call(...args) follows fn: its parameters after ctx, and Promise of its result', async () => {
    type Order = { id: string; qty: number };
    const place = resilient(async ({ signal }, order: Order, dryRun: boolean) => {
      expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
      return { id: order.id, filled: dryRun ? 0 : order.qty };
    });
    expectTypeOf(place).parameters.toEqualTypeOf<[order: Order, dryRun: boolean]>();
    expectTypeOf(place).returns.toEqualTypeOf<Promise<{ id: string; filled: number }>>();
    expect(await place({ id: 'a', qty: 3 }, false)).toEqual({ id: 'a', filled: 3 });
    // @ts-expect-error dryRun is missing
    void place({ id: 'a', qty: 3 }).catch(() => {});
    place.stop();
  });

  it('a sync fn gives a Promise too, and the fallback answers with the same type', async () => {
    const double = resilient((_ctx, n: number) => n * 2, { fallback: (_error, n) => -n });
    expectTypeOf(double).parameters.toEqualTypeOf<[n: number]>();
    expectTypeOf(double).returns.toEqualTypeOf<Promise<number>>();
    expect(await double(21)).toBe(42);
    const rejected = () =>
      // @ts-expect-error the fallback must answer with fn's result type
      resilient((_ctx, n: number) => n * 2, { fallback: 'none' });
    expectTypeOf(rejected).toBeFunction();
  });

  it('call.withSignal(signal)(...args) follows fn too', async () => {
    const add = resilient((_ctx, a: number, b: number) => a + b);
    const cancellable = add.withSignal(new AbortController().signal);
    expectTypeOf(cancellable).parameters.toEqualTypeOf<[a: number, b: number]>();
    expectTypeOf(cancellable).returns.toEqualTypeOf<Promise<number>>();
    expect(await cancellable(40, 2)).toBe(42);
    // @ts-expect-error b must be a number
    void cancellable(1, 'x').catch(() => {});
  });
});
