/**
 * Core suite: tell throughput (one actor, many actors), ask round trips (sequential, 100 in
 * flight) and spawning, for Genesis against nact 7, XState v5 and a plain-Node floor; and the
 * per-ask cost of the default circuit breaker and of routing an ask through a pool, Genesis
 * against itself (a breaker-less actor, a direct ask) in the floor column, as bench/resilience.ts
 * does for its peers.
 *
 * Sizes differ per contestant so that one run takes about 0.1–0.5 s on every contestant (nact
 * handles one message per event-loop iteration; the full Genesis sizes would take it many
 * seconds per round). Every figure is per message / per ask / per actor, so they compare.
 * Each run starts its own system and shuts it down outside the timed part, except the "warm"
 * tell runs, which reuse the actors of the previous round (see `fixtures`).
 */
import { type ActorRef, ActorSystem, defineActor, pool } from '../src/index.ts';
import { check, type Experiment, gc, type Options, percentiles, size, type Suite, tick } from './harness.ts';
import {
  FloorServer,
  machineCounter,
  nactAsk,
  nactSpawnCounter,
  nactSpawnEcho,
  nactStart,
  nactStop,
  nactTell,
  nactTotal,
  type NactSystem,
  transitionCounter,
} from './peers.ts';
import { createActor } from 'xstate';

const SILENT = { logger: { level: 'silent' } };

/** Adds the numbers it is told; replies with the total to 'get'. */
const Counter = defineActor<number, number | 'get'>({
  init: () => 0,
  receive(total, message, ctx) {
    if (message === 'get') {
      ctx.reply(total);
      return;
    }
    return total + message;
  },
});

/** Replies with what it was asked. */
const Echo = defineActor<undefined, number>({
  receive(_state, n, ctx) {
    ctx.reply(n);
  },
});

/** An actor that never gets a message. */
const Idle = defineActor<number, number>({ init: () => 0, receive: (total, n) => total + n });

/** Sum of 0 … n-1. */
const sumBelow = (n: number) => (n * (n - 1)) / 2;
const perSecond = (count: number, ms: number) => (count / ms) * 1000;

// ---- 1 and 2. tell throughput ---------------------------------------------------------

/**
 * A contestant's actors for the tell runs: new ones for every run ("fresh": the mailboxes grow
 * during the timed run), or made once and kept across rounds ("warm": mailboxes and queues are
 * already grown by the warm-up round, as in a long-running system). `totals` are the counters'
 * totals after the previous run, so each run checks what it added.
 */
interface Fixture<T> {
  actors: T[];
  totals: number[];
}

function fixtures<T>(warm: boolean, teardowns: (() => Promise<void>)[], make: () => Promise<T[]>, dispose: (actors: T[]) => Promise<void> | void) {
  let kept: Fixture<T> | undefined;
  return {
    async get(): Promise<Fixture<T>> {
      if (kept !== undefined) return kept;
      const actors = await make();
      const fixture = { actors, totals: actors.map(() => 0) };
      if (warm) {
        kept = fixture;
        teardowns.push(async () => dispose(actors));
      }
      return fixture;
    },
    async release(fixture: Fixture<T>): Promise<void> {
      if (!warm) await dispose(fixture.actors);
    },
  };
}

/** The floor's queue: a plain array written at `size` (appending, like push, until the array
 *  has grown) and drained by index; draining keeps the array, as a warm mailbox keeps its ring. */
class ArrayQueue {
  items: number[] = [];
  size = 0;
}

/** `perActor` messages to each of `count` actors, interleaved (for m, for actor: tell). */
function tell(o: Options, count: number, warm: boolean): Experiment {
  const many = count > 1;
  const perActor = many
    ? { genesis: size(1000, o, 10), nact: size(100, o, 10), xstateTransition: size(1000, o, 10), xstateMachine: size(200, o, 10), floor: size(1000, o, 10) }
    : { genesis: size(2e6, o), nact: size(1e5, o), xstateTransition: size(1e6, o), xstateMachine: size(2e5, o), floor: size(2e6, o) };
  const teardowns: (() => Promise<void>)[] = [];
  const describe = (m: number) => (many ? `${count} actors × ${m} messages (interleaved)` : `${m.toLocaleString('en-US')} messages`);
  const kind = warm ? 'kept from the previous round' : 'new each run';

  /** Checks what the run added to each total and returns its rate. The send loops are written
   *  out in each contestant: a shared loop calling back would make that call megamorphic and
   *  slow the fastest contestants most. */
  function result<T>(fixture: Fixture<T>, m: number, t0: number, after: number[]) {
    const ms = performance.now() - t0;
    check(
      after.every((t, a) => t - fixture.totals[a]! === sumBelow(m)),
      'totals after the run',
    );
    fixture.totals = after;
    return { rate: perSecond(count * m, ms) };
  }

  let genesisSystem: ActorSystem | null = null;
  const genesis = fixtures(
    warm,
    teardowns,
    async () => {
      genesisSystem = await ActorSystem.start(SILENT);
      return Array.from({ length: count }, () => genesisSystem!.spawn(Counter));
    },
    () => genesisSystem!.shutdown(),
  );
  let nactSystem: NactSystem | null = null;
  const nactFx = fixtures(
    warm,
    teardowns,
    async () => {
      nactSystem = nactStart();
      return Array.from({ length: count }, (_, i) => nactSpawnCounter(nactSystem!, `c${i}`));
    },
    () => nactStop(nactSystem!),
  );
  const stopAll = (actors: { stop(): unknown }[]) => {
    for (const actor of actors) actor.stop();
  };
  const transition = fixtures(warm, teardowns, async () => Array.from({ length: count }, () => createActor(transitionCounter).start()), stopAll);
  const machine = fixtures(warm, teardowns, async () => Array.from({ length: count }, () => createActor(machineCounter).start()), stopAll);
  const floorFx = fixtures(
    warm,
    teardowns,
    async () => Array.from({ length: count }, () => new ArrayQueue()),
    () => {},
  );

  return {
    title: `tell → ${count} actor${many ? 's' : ''}, ${warm ? 'warm' : 'fresh'}`,
    figures: [{ metric: 'rate', label: 'messages/s', unit: 'msg/s', better: 'higher', target: many ? '≥ 8 M/s' : '≥ 10 M/s' }],
    teardown: async () => {
      for (const teardown of teardowns.splice(0)) await teardown();
    },
    notes: {
      genesis: `${describe(perActor.genesis)}: ref.tell(n) to Counter actors ${kind}, then ask('get') each (timed)`,
      nact: `${describe(perActor.nact)}: dispatch(ref, n) to reducer actors ${kind}, then a query each (timed)`,
      xstateTransition: `${describe(perActor.xstateTransition)}: send({type:'inc',n}) to fromTransition actors ${kind}, then getSnapshot()`,
      xstateMachine: `${describe(perActor.xstateMachine)}: send({type:'inc',n}) to one-state machines with assign, ${kind}, then getSnapshot()`,
      floor: `${describe(perActor.floor)}: appended to plain arrays ${kind}, then each drained by index, adding`,
    },
    contestants: {
      async genesis() {
        const fixture = await genesis.get();
        const { actors } = fixture;
        const m = perActor.genesis;
        const t0 = performance.now();
        for (let n = 0; n < m; n++) for (let a = 0; a < count; a++) actors[a]!.tell(n);
        const after = await Promise.all(actors.map((ref) => ref.ask<number>('get')));
        const measured = result(fixture, m, t0, after);
        await genesis.release(fixture);
        return measured;
      },
      async nact() {
        const fixture = await nactFx.get();
        const { actors } = fixture;
        const m = perActor.nact;
        const t0 = performance.now();
        for (let n = 0; n < m; n++) for (let a = 0; a < count; a++) nactTell(actors[a]!, n);
        const after = await Promise.all(actors.map(nactTotal));
        const measured = result(fixture, m, t0, after);
        await nactFx.release(fixture);
        return measured;
      },
      async xstateTransition() {
        const fixture = await transition.get();
        const { actors } = fixture;
        const m = perActor.xstateTransition;
        const t0 = performance.now();
        for (let n = 0; n < m; n++) for (let a = 0; a < count; a++) actors[a]!.send({ type: 'inc', n });
        const after = actors.map((actor) => actor.getSnapshot().context);
        const measured = result(fixture, m, t0, after);
        await transition.release(fixture);
        return measured;
      },
      async xstateMachine() {
        const fixture = await machine.get();
        const { actors } = fixture;
        const m = perActor.xstateMachine;
        const t0 = performance.now();
        for (let n = 0; n < m; n++) for (let a = 0; a < count; a++) actors[a]!.send({ type: 'inc', n });
        const after = actors.map((actor) => actor.getSnapshot().context.total);
        const measured = result(fixture, m, t0, after);
        await machine.release(fixture);
        return measured;
      },
      async floor() {
        const fixture = await floorFx.get();
        const { actors } = fixture;
        const m = perActor.floor;
        const t0 = performance.now();
        for (let n = 0; n < m; n++) {
          for (let a = 0; a < count; a++) {
            const queue = actors[a]!;
            queue.items[queue.size++] = n;
          }
        }
        const after = actors.map((queue, a) => {
          let total = fixture.totals[a]!;
          const items = queue.items;
          for (let i = 0; i < queue.size; i++) total += items[i]!;
          queue.size = 0;
          return total;
        });
        const measured = result(fixture, m, t0, after);
        await floorFx.release(fixture);
        return measured;
      },
    },
  };
}

// ---- 3 and 4. ask round trips ----------------------------------------------------------

type Ask = (n: number) => Promise<number>;

/** `count` asks, `width` at a time: each completion starts the next ask. Returns ms taken;
 *  with `latencies`, also records each ask's round trip in µs. */
async function askLoop(ask: Ask, count: number, width: number, latencies?: Float64Array): Promise<number> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      const i = started++;
      if (latencies === undefined) {
        const reply = await ask(i);
        if (reply !== i) throw new Error(`ask ${i} got ${reply}`);
      } else {
        const t = performance.now();
        const reply = await ask(i);
        latencies[i] = (performance.now() - t) * 1000;
        if (reply !== i) throw new Error(`ask ${i} got ${reply}`);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: width }, worker));
  return performance.now() - t0;
}

/** A throughput pass, then a separate latency pass timing each ask. */
async function askFigures(ask: Ask, count: number, latencyCount: number, width: number) {
  const ms = await askLoop(ask, count, width);
  gc();
  const latencies = new Float64Array(latencyCount);
  await askLoop(ask, latencyCount, width, latencies);
  return { rate: perSecond(count, ms), ...percentiles(latencies) };
}

const XSTATE_NO_ASK = 'XState v5 has no request/reply: send() returns void';

function asks(o: Options, width: number): Experiment {
  const sequential = width === 1;
  const n = {
    genesis: [size(300_000, o), size(100_000, o)],
    nact: [size(20_000, o), size(10_000, o)],
    floor: [size(300_000, o), size(100_000, o)],
  } as const;
  const figures: Experiment['figures'] = [
    { metric: 'rate', label: 'asks/s', unit: 'ask/s', better: 'higher', target: sequential ? '≥ 1 M/s' : '≥ 2 M/s' },
    { metric: 'p50', label: 'latency p50', unit: 'µs', better: 'lower', target: sequential ? '≤ 1 µs' : undefined },
    { metric: 'p99', label: 'latency p99', unit: 'µs', better: 'lower' },
  ];
  const describe = ([count, latency]: readonly [number, number]) =>
    `${count} asks${sequential ? ' in sequence' : `, ${width} in flight`}; latency from a separate pass of ${latency} asks each timed with performance.now()`;
  return {
    title: sequential ? 'ask, sequential' : `ask, ${width} in flight`,
    figures: sequential ? figures : figures.filter((f) => f.metric !== 'p50'),
    notes: {
      genesis: `${describe(n.genesis)}; an Echo actor ctx.reply()s`,
      nact: `${describe(n.nact)}; query(actor, sender => msg, timeout), the actor dispatches to sender`,
      xstateTransition: XSTATE_NO_ASK,
      xstateMachine: XSTATE_NO_ASK,
      floor: `${describe(n.floor)}; requests queued and answered on one microtask, promise per request`,
    },
    contestants: {
      async genesis() {
        const system = await ActorSystem.start(SILENT);
        const ref = system.spawn(Echo);
        const result = await askFigures((i) => ref.ask<number>(i), n.genesis[0], n.genesis[1], width);
        await system.shutdown();
        return result;
      },
      async nact() {
        const system = nactStart();
        const ref = nactSpawnEcho(system, 'echo');
        const result = await askFigures((i) => nactAsk(ref, i), n.nact[0], n.nact[1], width);
        nactStop(system);
        return result;
      },
      xstateTransition: { na: XSTATE_NO_ASK },
      xstateMachine: { na: XSTATE_NO_ASK },
      async floor() {
        const server = new FloorServer();
        return askFigures((i) => server.ask(i), n.floor[0], n.floor[1], width);
      },
    },
  };
}

// ---- 5. ask through a closed breaker vs no breaker ----------------------------------------

const BREAKER_NOTE = 'the same Genesis ask, the actor spawned with `breaker: false`; run in the Node floor column';

/** `count` asks in sequence, each checked. One loop for both contestants: the call is the same
 *  `ref.ask` method in both, so the call site stays monomorphic. */
async function sequentialAsks(ref: ActorRef<number>, count: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const reply = await ref.ask<number>(i);
    if (reply !== i) throw new Error(`ask ${i} got ${reply}`);
  }
  return performance.now() - t0;
}

/**
 * The per-ask cost of the breaker every asked actor gets by default: the same sequential ask to
 * the same Echo behavior, through its closed breaker (Genesis column) and with `breaker: false`
 * (Node floor column, so G/floor is the ratio). Each run starts its own system, warms the actor up
 * with untimed asks (the first one creates the breaker) and checks the breaker stayed closed.
 */
function askBreaker(o: Options): Experiment {
  const count = size(500_000, o);
  const warmup = size(20_000, o);
  const run = async (breaker: boolean) => {
    const system = await ActorSystem.start(SILENT);
    const ref = system.spawn(Echo, breaker ? undefined : { breaker: false });
    await sequentialAsks(ref, warmup);
    const state = () => system.tree()[0]!.breaker;
    check(state() === (breaker ? 'closed' : undefined), `breaker ${breaker ? 'closed' : 'absent'} after warm-up (got ${state()})`);
    gc();
    const ms = await sequentialAsks(ref, count);
    check(state() === (breaker ? 'closed' : undefined), `breaker ${breaker ? 'still closed' : 'absent'} after the run`);
    await system.shutdown();
    return { rate: perSecond(count, ms), us: (ms * 1000) / count };
  };
  const describe = (what: string) =>
    `${count.toLocaleString('en-US')} asks in sequence to an Echo actor (ctx.reply(m)) ${what}, after ${warmup.toLocaleString('en-US')} untimed warm-up asks in the same run; checked: every reply, and tree() shows the breaker`;
  return {
    title: 'ask, sequential, closed breaker [floor column: breaker: false]',
    figures: [
      { metric: 'rate', label: 'asks/s', unit: 'ask/s', better: 'higher', target: '≥ 0.91× floor' },
      { metric: 'us', label: 'time per ask', unit: 'µs', better: 'lower', target: '≤ 1.1× floor' },
    ],
    notes: {
      genesis: describe('spawned with default options: its breaker (created by the first warm-up ask) is closed'),
      nact: 'not measured: a Genesis-only comparison',
      xstateTransition: 'not measured: a Genesis-only comparison',
      xstateMachine: 'not measured: a Genesis-only comparison',
      floor: `${BREAKER_NOTE}: ${describe('spawned with `{ breaker: false }`: no breaker is created')}`,
    },
    contestants: {
      genesis: () => run(true),
      floor: () => run(false),
    },
  };
}

// ---- 6. ask through a pool vs a direct ask ----------------------------------------------

/**
 * What routing through a pool costs: the same sequential ask to Echo, through a pool of `size`
 * Echo workers (Genesis column: the caller's ask, the pool's ask to a worker, the reply relayed)
 * and straight to one Echo actor (Node floor column, so G/floor is the ratio). Default options on
 * both sides: breakers on, no hedge. Each run starts its own system and warms up untimed.
 */
function askPool(o: Options, poolSize: number): Experiment {
  const count = size(200_000, o);
  const warmup = size(20_000, o);
  const run = async (through: 'pool' | 'direct') => {
    const system = await ActorSystem.start(SILENT);
    let ref: ActorRef<number>;
    if (through === 'pool') ref = (await system.start(pool('p', Echo, { size: poolSize }))) as ActorRef<number>;
    else ref = system.spawn(Echo);
    await sequentialAsks(ref, warmup);
    gc();
    const ms = await sequentialAsks(ref, count);
    check(system.metrics().asksPending === 0, 'no ask left pending');
    await system.shutdown();
    return { rate: perSecond(count, ms), us: (ms * 1000) / count };
  };
  const describe = (what: string) =>
    `${count.toLocaleString('en-US')} asks in sequence ${what}, after ${warmup.toLocaleString('en-US')} untimed warm-up asks in the same run; checked: every reply`;
  return {
    title: `ask through a pool of ${poolSize} [floor column: direct ask]`,
    figures: [
      { metric: 'rate', label: 'asks/s', unit: 'ask/s', better: 'higher', target: '≥ 0.5× floor' },
      { metric: 'us', label: 'time per ask', unit: 'µs', better: 'lower', target: '≤ 2× floor' },
    ],
    notes: {
      genesis: describe(`to pool('p', Echo, { size: ${poolSize} }) (round-robin, no hedge)`),
      nact: 'not measured: a Genesis-only comparison',
      xstateTransition: 'not measured: a Genesis-only comparison',
      xstateMachine: 'not measured: a Genesis-only comparison',
      floor: `the same Genesis ask straight to one Echo actor; run in the Node floor column: ${describe('to system.spawn(Echo)')}`,
    },
    contestants: {
      genesis: () => run('pool'),
      floor: () => run('direct'),
    },
  };
}

// ---- 7. spawn --------------------------------------------------------------------------

/**
 * Spawns `count` actors with `spawn(i)`, holding the refs in an array, and measures the time
 * (scaled to `nominal` actors when fewer were spawned) and the heap kept per actor.
 */
function spawnFigures(count: number, nominal: number, spawn: (i: number) => unknown): { refs: unknown[]; ms: number; bytes: number } {
  const refs: unknown[] = new Array(count).fill(null);
  gc();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) refs[i] = spawn(i);
  const ms = performance.now() - t0;
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / count;
  return { refs, ms: (ms * nominal) / count, bytes };
}

function spawning(o: Options): Experiment {
  const N = size(100_000, o);
  /** XState actors take ~20 µs each to start: a fifth as many keeps the suite short. */
  const X = Math.round(N / 5);
  const k = (n: number) => `${n / 1000}k`;
  return {
    title: `spawn ${k(N)} idle actors`,
    figures: [
      { metric: 'ms', label: 'time', unit: 'ms', better: 'lower', target: '≤ 150 ms' },
      { metric: 'bytes', label: 'heap per actor', unit: 'B', better: 'lower', target: '≤ 500 B' },
    ],
    notes: {
      genesis: `system.spawn(Idle) ×${k(N)} (init returns 0), top level, generated names`,
      nact: `spawn(system, reducer, name, { initialState: 0 }) ×${k(N)}, names given (nact's random default names collide)`,
      xstateTransition: `createActor(fromTransition(...)).start() ×${k(X)}, time ×${N / X} to ${k(N)}`,
      xstateMachine: `createActor(machine).start() ×${k(X)}, time ×${N / X} to ${k(N)}`,
      floor: `{ state: 0, mailbox: [] } ×${k(N)}`,
    },
    contestants: {
      async genesis() {
        const system = await ActorSystem.start(SILENT);
        const { refs, ms, bytes } = spawnFigures(N, N, () => system.spawn(Idle));
        check(system.metrics().actors === refs.length, 'Genesis actor count');
        await system.shutdown();
        return { ms, bytes };
      },
      async nact() {
        const system = nactStart();
        const { refs, ms, bytes } = spawnFigures(N, N, (i) => nactSpawnCounter(system, `a${i}`));
        check(refs.length === N, 'nact refs');
        nactStop(system);
        await tick(); // nact finishes stopping actors on setImmediate
        return { ms, bytes };
      },
      async xstateTransition() {
        const { refs, ms, bytes } = spawnFigures(X, N, () => createActor(transitionCounter).start());
        for (const actor of refs as ReturnType<typeof createActor<typeof transitionCounter>>[]) actor.stop();
        return { ms, bytes };
      },
      async xstateMachine() {
        const { refs, ms, bytes } = spawnFigures(X, N, () => createActor(machineCounter).start());
        for (const actor of refs as ReturnType<typeof createActor<typeof machineCounter>>[]) actor.stop();
        return { ms, bytes };
      },
      async floor() {
        const { refs, ms, bytes } = spawnFigures(N, N, () => ({ state: 0, mailbox: [] as number[] }));
        check(refs.length === N, 'floor refs');
        return { ms, bytes };
      },
    },
  };
}

export const core: Suite = {
  name: 'core',
  experiments: (o) => [
    tell(o, 1, false),
    tell(o, 1, true),
    tell(o, 1000, false),
    tell(o, 1000, true),
    asks(o, 1),
    asks(o, 100),
    askBreaker(o),
    askPool(o, 1),
    askPool(o, 3),
    spawning(o),
  ],
};
