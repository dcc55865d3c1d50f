/**
 * Core suite: tell throughput (one actor, many actors), ask round trips (sequential, 100 in
 * flight) and spawning, for Genesis against nact 7, XState v5 and a plain-Node floor.
 *
 * Sizes differ per contestant so that one run takes about 0.1–0.5 s on every contestant (nact
 * handles one message per event-loop iteration; the full Genesis sizes would take it many
 * seconds per round). Every figure is per message / per ask / per actor, so they compare.
 * Each run starts its own system and shuts it down, outside the timed part.
 */
import { ActorSystem, defineActor } from '../src/index.ts';
import { check, type Experiment, gc, type Options, percentiles, size, type Suite, tick } from './harness.ts';
import {
  FloorServer,
  type Inc,
  machineCounter,
  nactAsk,
  nactSpawnCounter,
  nactSpawnEcho,
  nactStart,
  nactStop,
  nactTell,
  nactTotal,
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

// ---- 1. tell → one actor ---------------------------------------------------------------

function tellOne(o: Options): Experiment {
  const n = {
    genesis: size(2_000_000, o),
    nact: size(100_000, o),
    xstateTransition: size(1_000_000, o),
    xstateMachine: size(200_000, o),
    floor: size(2_000_000, o),
  };
  return {
    title: 'tell → 1 actor',
    figures: [{ metric: 'rate', label: 'messages/s', unit: 'msg/s', better: 'higher', target: '≥ 10 M/s' }],
    notes: {
      genesis: `${n.genesis} tells of numbers to a Counter, then one ask('get') (timed) for the total`,
      nact: `${n.nact} dispatches to a reducer actor, then one query for the total`,
      xstateTransition: `${n.xstateTransition} send({type:'inc',n}) to fromTransition, then getSnapshot()`,
      xstateMachine: `${n.xstateMachine} send({type:'inc',n}) to a one-state machine with assign, then getSnapshot()`,
      floor: `${n.floor} pushes to an array, then a drain loop by index adding them`,
    },
    contestants: {
      async genesis() {
        const system = await ActorSystem.start(SILENT);
        const ref = system.spawn(Counter);
        const N = n.genesis;
        const t0 = performance.now();
        for (let i = 0; i < N; i++) ref.tell(i);
        const total = await ref.ask<number>('get');
        const ms = performance.now() - t0;
        check(total === sumBelow(N), `Genesis total ${total}`);
        await system.shutdown();
        return { rate: perSecond(N, ms) };
      },
      async nact() {
        const system = nactStart();
        const ref = nactSpawnCounter(system, 'counter');
        const N = n.nact;
        const t0 = performance.now();
        for (let i = 0; i < N; i++) nactTell(ref, i);
        const total = await nactTotal(ref);
        const ms = performance.now() - t0;
        check(total === sumBelow(N), `nact total ${total}`);
        nactStop(system);
        return { rate: perSecond(N, ms) };
      },
      async xstateTransition() {
        const actor = createActor(transitionCounter).start();
        const N = n.xstateTransition;
        const t0 = performance.now();
        for (let i = 0; i < N; i++) actor.send({ type: 'inc', n: i });
        const total = actor.getSnapshot().context;
        const ms = performance.now() - t0;
        check(total === sumBelow(N), `XState total ${total}`);
        actor.stop();
        return { rate: perSecond(N, ms) };
      },
      async xstateMachine() {
        const actor = createActor(machineCounter).start();
        const N = n.xstateMachine;
        const t0 = performance.now();
        for (let i = 0; i < N; i++) actor.send({ type: 'inc', n: i });
        const total = actor.getSnapshot().context.total;
        const ms = performance.now() - t0;
        check(total === sumBelow(N), `XState machine total ${total}`);
        actor.stop();
        return { rate: perSecond(N, ms) };
      },
      async floor() {
        const N = n.floor;
        const queue: number[] = [];
        const t0 = performance.now();
        for (let i = 0; i < N; i++) queue.push(i);
        let total = 0;
        for (let i = 0; i < queue.length; i++) total += queue[i]!;
        queue.length = 0;
        const ms = performance.now() - t0;
        check(total === sumBelow(N), `floor total ${total}`);
        return { rate: perSecond(N, ms) };
      },
    },
  };
}

// ---- 2. tell → 1,000 actors ------------------------------------------------------------

function tellMany(o: Options): Experiment {
  const ACTORS = 1000;
  const each = {
    genesis: size(1000, o, 10),
    nact: size(100, o, 10),
    xstateTransition: size(1000, o, 10),
    xstateMachine: size(200, o, 10),
    floor: size(1000, o, 10),
  };
  const describe = (per: number) => `${ACTORS} actors × ${per} messages, interleaved`;
  return {
    title: `tell → ${ACTORS} actors`,
    figures: [{ metric: 'rate', label: 'messages/s', unit: 'msg/s', better: 'higher', target: '≥ 8 M/s' }],
    notes: {
      genesis: `${describe(each.genesis)}, then an ask('get') to each (timed)`,
      nact: `${describe(each.nact)}, then a query to each (timed)`,
      xstateTransition: `${describe(each.xstateTransition)}, then getSnapshot() of each`,
      xstateMachine: `${describe(each.xstateMachine)}, then getSnapshot() of each`,
      floor: `${describe(each.floor)} into ${ACTORS} arrays, then each drained`,
    },
    contestants: {
      async genesis() {
        const system = await ActorSystem.start(SILENT);
        const refs = Array.from({ length: ACTORS }, () => system.spawn(Counter));
        const M = each.genesis;
        const t0 = performance.now();
        for (let m = 0; m < M; m++) for (let a = 0; a < ACTORS; a++) refs[a]!.tell(m);
        const totals = await Promise.all(refs.map((ref) => ref.ask<number>('get')));
        const ms = performance.now() - t0;
        check(totals.every((t) => t === sumBelow(M)), 'Genesis totals');
        await system.shutdown();
        return { rate: perSecond(ACTORS * M, ms) };
      },
      async nact() {
        const system = nactStart();
        const refs = Array.from({ length: ACTORS }, (_, i) => nactSpawnCounter(system, `c${i}`));
        const M = each.nact;
        const t0 = performance.now();
        for (let m = 0; m < M; m++) for (let a = 0; a < ACTORS; a++) nactTell(refs[a]!, m);
        const totals = await Promise.all(refs.map(nactTotal));
        const ms = performance.now() - t0;
        check(totals.every((t) => t === sumBelow(M)), 'nact totals');
        nactStop(system);
        return { rate: perSecond(ACTORS * M, ms) };
      },
      async xstateTransition() {
        const actors = Array.from({ length: ACTORS }, () => createActor(transitionCounter).start());
        const M = each.xstateTransition;
        const t0 = performance.now();
        for (let m = 0; m < M; m++) for (let a = 0; a < ACTORS; a++) actors[a]!.send({ type: 'inc', n: m });
        const totals = actors.map((actor) => actor.getSnapshot().context);
        const ms = performance.now() - t0;
        check(totals.every((t) => t === sumBelow(M)), 'XState totals');
        for (const actor of actors) actor.stop();
        return { rate: perSecond(ACTORS * M, ms) };
      },
      async xstateMachine() {
        const actors = Array.from({ length: ACTORS }, () => createActor(machineCounter).start());
        const M = each.xstateMachine;
        const t0 = performance.now();
        for (let m = 0; m < M; m++) for (let a = 0; a < ACTORS; a++) actors[a]!.send({ type: 'inc', n: m } satisfies Inc);
        const totals = actors.map((actor) => actor.getSnapshot().context.total);
        const ms = performance.now() - t0;
        check(totals.every((t) => t === sumBelow(M)), 'XState machine totals');
        for (const actor of actors) actor.stop();
        return { rate: perSecond(ACTORS * M, ms) };
      },
      async floor() {
        const queues: number[][] = Array.from({ length: ACTORS }, () => []);
        const M = each.floor;
        const t0 = performance.now();
        for (let m = 0; m < M; m++) for (let a = 0; a < ACTORS; a++) queues[a]!.push(m);
        const totals = queues.map((queue) => {
          let total = 0;
          for (let i = 0; i < queue.length; i++) total += queue[i]!;
          queue.length = 0;
          return total;
        });
        const ms = performance.now() - t0;
        check(totals.every((t) => t === sumBelow(M)), 'floor totals');
        return { rate: perSecond(ACTORS * M, ms) };
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

// ---- 5. spawn --------------------------------------------------------------------------

/** Times `spawn(i)` for i < count and measures the heap it keeps (refs held in an array). */
function spawnFigures(count: number, spawn: (i: number) => unknown): { refs: unknown[]; ms: number; bytes: number } {
  const refs: unknown[] = new Array(count).fill(null);
  gc();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) refs[i] = spawn(i);
  const ms = performance.now() - t0;
  gc();
  const bytes = (process.memoryUsage().heapUsed - before) / count;
  return { refs, ms, bytes };
}

function spawning(o: Options): Experiment {
  const N = size(100_000, o);
  return {
    title: `spawn ${N / 1000}k idle actors`,
    figures: [
      { metric: 'ms', label: 'time', unit: 'ms', better: 'lower', target: '≤ 150 ms' },
      { metric: 'bytes', label: 'heap per actor', unit: 'B', better: 'lower', target: '≤ 500 B' },
    ],
    notes: {
      genesis: `system.spawn(Idle) ×${N} (init returns 0), top level, generated names`,
      nact: `spawn(system, reducer, name, { initialState: 0 }) ×${N}, names given (nact's random default names collide)`,
      xstateTransition: `createActor(fromTransition(...)).start() ×${N}`,
      xstateMachine: `createActor(machine).start() ×${N}`,
      floor: `{ state: 0, mailbox: [] } ×${N}`,
    },
    contestants: {
      async genesis() {
        const system = await ActorSystem.start(SILENT);
        const { refs, ms, bytes } = spawnFigures(N, () => system.spawn(Idle));
        check(system.metrics().actors === refs.length, 'Genesis actor count');
        await system.shutdown();
        return { ms, bytes };
      },
      async nact() {
        const system = nactStart();
        const { refs, ms, bytes } = spawnFigures(N, (i) => nactSpawnCounter(system, `a${i}`));
        check(refs.length === N, 'nact refs');
        nactStop(system);
        await tick(); // nact finishes stopping actors on setImmediate
        return { ms, bytes };
      },
      async xstateTransition() {
        const { refs, ms, bytes } = spawnFigures(N, () => createActor(transitionCounter).start());
        for (const actor of refs as ReturnType<typeof createActor<typeof transitionCounter>>[]) actor.stop();
        return { ms, bytes };
      },
      async xstateMachine() {
        const { refs, ms, bytes } = spawnFigures(N, () => createActor(machineCounter).start());
        for (const actor of refs as ReturnType<typeof createActor<typeof machineCounter>>[]) actor.stop();
        return { ms, bytes };
      },
      async floor() {
        const { refs, ms, bytes } = spawnFigures(N, () => ({ state: 0, mailbox: [] as number[] }));
        check(refs.length === N, 'floor refs');
        return { ms, bytes };
      },
    },
  };
}

export const core: Suite = {
  name: 'core',
  experiments: (o) => [tellOne(o), tellMany(o), asks(o, 1), asks(o, 100), spawning(o)],
};
