/**
 * Fault-injection ("chaos") actors for tests and the demo. Each is deterministic: probabilities
 * come from a seeded RNG, delays from the clock passed in (a SimulatedClock in tests).
 */
import { type ActorDefinition, type Behavior, type Clock, type Context, defineActor, realClock } from '../../src/index.js';
import { seededRandom } from '../rng.js';

/** Records what happened to chaos actors, for tests to assert on. */
export interface ChaosJournal {
  push(entry: string): void;
}

export type CrasherMsg = { type: 'crash' } | { type: 'work'; value?: unknown } | { type: 'get' };

export interface CrasherArgs {
  /** Probability that a 'work' message crashes the actor (default 0). */
  p?: number;
  seed?: number;
  /** Receives 'init <path>' and 'terminate <path>' entries. */
  journal?: ChaosJournal;
}

interface CrasherState {
  handled: number;
  random: () => number;
  p: number;
  journal?: ChaosJournal;
}

/**
 * Crashes on `{ type: 'crash' }`, or on `{ type: 'work' }` with probability p. `{ type: 'get' }`
 * answers how many messages this incarnation has handled (a restart starts again from 0).
 */
export const Crasher = defineActor<CrasherState, CrasherMsg, CrasherArgs | undefined>({
  init: (args, ctx) => {
    args?.journal?.push(`init ${ctx.path}`);
    return { handled: 0, random: seededRandom(args?.seed ?? 1), p: args?.p ?? 0, journal: args?.journal };
  },
  receive(state, msg, ctx) {
    if (msg.type === 'crash') throw new Error(`injected crash of ${ctx.path}`);
    if (msg.type === 'get') {
      ctx.reply(state.handled);
      return;
    }
    if (state.random() < state.p) throw new Error(`random crash of ${ctx.path}`);
    state.handled++;
    ctx.reply(msg.value ?? state.handled);
  },
  terminate: (state, _reason, ctx) => state.journal?.push(`terminate ${ctx.path}`),
});

/** Hangs forever on 'hang' (its handler never settles); answers 'ping'. */
export const Hanger = defineActor<null, 'hang' | 'ping'>({
  receive(_s, msg, ctx) {
    if (msg === 'ping') {
      ctx.reply('pong');
      return;
    }
    return new Promise<null>(() => {});
  },
});

export interface SlowArgs {
  /** Latency of each reply in ms, drawn per message (e.g. `() => 1000 + 2000 * rnd()`). */
  latencyMs: () => number;
  clock?: Clock;
}

/** Replies to every ask with its message after a latency drawn from the given distribution. */
export const Slow = defineActor<SlowArgs, unknown, SlowArgs>({
  init: (args) => args,
  receive(args, msg, ctx) {
    const reply = ctx.deferReply();
    const clock = args.clock ?? realClock;
    clock.setTimeout(() => reply(msg), args.latencyMs());
  },
});

/** A uniform latency distribution over [minMs, maxMs) from a seeded RNG. */
export function uniformLatency(minMs: number, maxMs: number, seed = 1): () => number {
  const random = seededRandom(seed);
  return () => minMs + (maxMs - minMs) * random();
}

export interface InitCrasherArgs {
  /** Crash in the first `failTimes` inits, then start normally (default: always crash). */
  failTimes?: number;
  /** Shared across incarnations: counts inits. */
  counter?: { inits: number };
}

/** Crashes in init (a restart loop, then escalation), optionally only the first N times. */
export const InitCrasher = defineActor<null, unknown, InitCrasherArgs | undefined>({
  init(args, ctx) {
    const counter = args?.counter ?? { inits: 0 };
    counter.inits++;
    if (counter.inits <= (args?.failTimes ?? Infinity)) throw new Error(`injected init crash of ${ctx.path}`);
    return null;
  },
  receive(_s, _m, ctx) {
    ctx.reply('ok');
  },
});

/** The message that makes a `crashable` actor crash. */
export const CRASH = Object.freeze({ type: 'chaos.crash' as const });

/**
 * Wraps a behavior so that telling it `CRASH` makes it throw — fault injection into actors that
 * know nothing about it (the demo's trading actors). Everything else is delegated unchanged.
 */
export function crashable<S, M, A>(behavior: Behavior<S, M, A>): Behavior<S, M | typeof CRASH, A> {
  const receive = behavior.receive;
  const receiveBatch = behavior.receiveBatch;
  const inject = (ctx: { path: string }) => {
    throw new Error(`injected crash of ${ctx.path}`);
  };
  return defineActor<S, M | typeof CRASH, A>({
    ...(behavior as ActorDefinition<S, M, A>),
    ...(receive && {
      receive: (state: S, msg: M | typeof CRASH, ctx: Context<M | typeof CRASH>) => (msg === CRASH ? inject(ctx) : receive(state, msg as M, ctx as Context<M>)),
    }),
    ...(receiveBatch && {
      receiveBatch: (state: S, msgs: Array<M | typeof CRASH>, ctx: Context<M | typeof CRASH>) =>
        msgs.includes(CRASH) ? inject(ctx) : receiveBatch(state, msgs as M[], ctx as Context<M>),
    }),
  } as ActorDefinition<S, M | typeof CRASH, A>);
}
