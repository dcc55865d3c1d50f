import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../actors/rng.js';
import {
  type ActorRef,
  CircuitOpenError,
  OverloadedError,
  type Clock,
  ConfigError,
  defineActor,
  pool,
  SimulatedClock,
  supervisor,
  TimeoutError,
} from '../../src/index.js';
import { cellOf } from '../../src/core/cell.js';
import type { Asks } from '../../src/core/asking.js';
import { nextTurn, startSystem, until } from '../helpers.js';

/** The system's ask service (internal), to look at its deadline bookkeeping. */
const asksOf = (system: object) => (system as unknown as { asks: Asks }).asks;

/** A worker whose reply latency (on the given clock) depends on its name and the time. */
function latencyWorker(latency: (name: string, now: number) => number) {
  return defineActor<{ clock: Clock }, unknown, { clock: Clock }>({
    init: (args) => args,
    receive(state, msg, ctx) {
      const reply = ctx.deferReply();
      state.clock.setTimeout(() => reply({ from: ctx.name, msg }), latency(ctx.name, state.clock.now()));
    },
  });
}

const Named = defineActor<string[], string>({
  init: () => [],
  receive(seen, msg, ctx) {
    seen.push(msg);
    if (msg === 'who') ctx.reply(ctx.name);
    if (msg === 'seen') ctx.reply([...seen]);
  },
});

async function settleOn(clock: SimulatedClock, ms: number, step = 1): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await nextTurn();
  }
}

describe('pool', () => {
  it('routes asks and tells round-robin over its workers and shows as a pool in the tree', async () => {
    const system = await startSystem();
    const workers = await system.start(supervisor('app', { strategy: 'one-for-one', children: [pool('p', Named, { size: 3 })] }));
    void workers;
    const p = system.lookup('/app/p')!;
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await p.ask('who'));
    expect(answers).toEqual(['0', '1', '2', '0', '1', '2']);
    const node = system.tree()[0]!.children[0]!;
    expect([node.kind, node.children.map((c) => c.path)]).toEqual(['pool', ['/app/p/0', '/app/p/1', '/app/p/2']]);
    p.tell('t1');
    p.tell('t2');
    await until(() => system.metrics().messagesHandled >= 6 * 2 + 2 + 2); // forwarded and handled
    expect(await system.lookup('/app/p/0')!.ask('seen')).toEqual(['who', 'who', 't1', 'seen']);
    expect(await system.lookup('/app/p/1')!.ask('seen')).toEqual(['who', 'who', 't2', 'seen']);
  });

  it('forwards messages with the priority they were sent with', async () => {
    const system = await startSystem();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const Recorder = defineActor<null, string>({
      async receive(_s, m) {
        if (m === 'block') await gate; // holds the worker's mailbox while the others queue up
        order.push(m);
      },
    });
    await system.start(pool('p', Recorder, { size: 1 }));
    const p = system.lookup('/p')!;
    p.tell('block');
    await nextTurn();
    p.tell('low', { priority: 4 });
    await nextTurn(); // forwarded to the worker before the urgent one arrives
    p.tell('urgent', { priority: 0 });
    await nextTurn();
    release();
    await until(() => order.length === 3);
    expect(order).toEqual(['block', 'urgent', 'low']);
  });

  it('sends to the least busy worker under least-busy routing', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Slow = latencyWorker((name) => (name === '0' ? 1000 : 10));
    await system.start(pool('p', Slow, { size: 2, routing: 'least-busy', args: { clock } }));
    const p = system.lookup('/p')!;
    const first = p.ask('a', { timeoutMs: 5000 }); // goes to 0 and stays there for 1 s
    await nextTurn();
    const from: string[] = [];
    for (const msg of ['b', 'c', 'd']) {
      const answer = p.ask(msg);
      await settleOn(clock, 15);
      from.push(((await answer) as { from: string }).from);
    }
    expect(from).toEqual(['1', '1', '1']); // round-robin would have sent 'c' to the busy worker 0
    await settleOn(clock, 1000, 50);
    expect(await first).toEqual({ from: '0', msg: 'a' });
  });

  it('hedges a slow ask to another worker: the first reply wins', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Slow = latencyWorker((name) => (name === '0' ? 2000 : 20));
    await system.start(pool('p', Slow, { size: 3, hedge: { afterMs: 50 }, args: { clock } }));
    const started = clock.now();
    const answer = system.lookup('/p')!.ask('x', { timeoutMs: 1000 });
    let result: unknown;
    void answer.then((r) => (result = r));
    await settleOn(clock, 100);
    expect(result).toEqual({ from: '1', msg: 'x' });
    expect(clock.now() - started).toBeGreaterThanOrEqual(70);
  });

  it('keeps answering while one worker hangs and another crashes', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Mixed = defineActor<null, string>({
      receive(_s, msg, ctx) {
        if (ctx.name === '0') return new Promise<null>(() => {}); // hangs
        if (ctx.name === '1') throw new Error('worker 1 is broken'); // crashes
        ctx.reply(`${msg} by ${ctx.name}`);
      },
    });
    await system.start(pool('p', Mixed, { size: 3, hedge: { afterMs: 20, max: 3 } }));
    const p = system.lookup('/p')!;
    const results: unknown[] = [];
    for (let i = 0; i < 10; i++)
      void p.ask(`q${i}`, { timeoutMs: 1000 }).then(
        (r) => results.push(r),
        (e) => results.push(e),
      );
    await settleOn(clock, 200, 5);
    expect(results).toHaveLength(10);
    expect(results.every((r) => typeof r === 'string' && r.endsWith('by 2'))).toBe(true);
    expect(system.tree()[0]!.children.find((c) => c.name === '1')!.restarts).toBeGreaterThan(0);
    const shutdown = system.shutdown(); // the hung worker is killed after its shutdownMs
    await settleOn(clock, 6000, 500);
    await shutdown;
  });

  it('fails an ask when every attempt failed, with the last error', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Silent = defineActor({ receive: (_s, _m, ctx) => void ctx.deferReply() });
    await system.start(pool('p', Silent, { size: 2 }));
    const answer = system
      .lookup('/p')!
      .ask('x', { timeoutMs: 100 })
      .catch((e: unknown) => e);
    await settleOn(clock, 110, 10);
    expect(await answer).toBeInstanceOf(TimeoutError);
  });

  it('ends an ask once every worker was tried, when all breakers are open, and leaves the event loop free', async () => {
    const clock = new SimulatedClock(); // the breakers stay open: their reset never comes
    const system = await startSystem({ clock });
    const Fragile = defineActor<null, string>({
      receive(_s, msg, ctx) {
        if (msg === 'boom') throw new Error('broken');
        ctx.reply(msg);
      },
    });
    await system.start(pool('p', Fragile, { size: 2, hedge: { afterMs: 50 }, breaker: { failureThreshold: 1, resetTimeoutMs: 60_000 } }));
    for (const name of ['0', '1'])
      await system
        .lookup(`/p/${name}`)!
        .ask('boom')
        .catch(() => {}); // a crash opens its breaker
    expect(system.tree()[0]!.children.map((c) => c.breaker)).toEqual(['open', 'open']);
    let timerFired = false;
    setImmediate(() => (timerFired = true)); // starves if the pool retries in microtasks forever
    const p = system.lookup('/p')!;
    const outcomes = await Promise.all(Array.from({ length: 200 }, (_, i) => p.ask(`q${i}`, { timeoutMs: 1000 }).catch((e: unknown) => e)));
    expect(outcomes.every((e) => e instanceof CircuitOpenError)).toBe(true);
    await nextTurn();
    expect(timerFired).toBe(true);
  });

  it('has no breaker of its own by default: timeouts at the pool never refuse asks its healthy workers can answer', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Slow = latencyWorker((_name, now) => (now < 1000 ? 200 : 1)); // slow at first, then fast
    await system.start(pool('p', Slow, { size: 3, args: { clock } }));
    const p = system.lookup('/p')!;
    const early = Array.from({ length: 6 }, (_, i) => p.ask(i, { timeoutMs: 100 }).catch((e: unknown) => e));
    await settleOn(clock, 1000, 10);
    expect((await Promise.all(early)).every((e) => e instanceof TimeoutError)).toBe(true); // 2 per worker
    const answer = p.ask('later', { timeoutMs: 100 });
    await settleOn(clock, 5);
    expect(await answer).toEqual({ from: expect.any(String), msg: 'later' });
    expect(system.tree()[0]!.breaker).toBeUndefined(); // the pool node shows no breaker
  });

  it("guards the pool with its own breaker when poolBreaker is set, apart from the workers' breakers", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Slow = latencyWorker(() => 200);
    await system.start(pool('p', Slow, { size: 2, args: { clock }, breaker: false, poolBreaker: { failureThreshold: 2, resetTimeoutMs: 10_000 } }));
    const p = system.lookup('/p')!;
    const early = [p.ask(1, { timeoutMs: 100 }).catch((e: unknown) => e), p.ask(2, { timeoutMs: 100 }).catch((e: unknown) => e)];
    await settleOn(clock, 110, 10);
    expect((await Promise.all(early)).every((e) => e instanceof TimeoutError)).toBe(true);
    const tree = system.tree()[0]!;
    expect([tree.breaker, tree.children.map((c) => c.breaker)]).toEqual(['open', [undefined, undefined]]);
    await expect(p.ask(3)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('keeps its deadline bookkeeping bounded: 10k asks routed at varied times leave no list per timeout', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Echo = defineActor<null, number>({ receive: (_s, n, ctx) => void ctx.reply(n) });
    await system.start(pool('p', Echo, { size: 3 }));
    const p = system.lookup('/p')!;
    for (let i = 0; i < 10_000; i++) {
      const answer = p.ask(i, { timeoutMs: 1000 });
      clock.advance(((i * 7919) % 1000) / 10_000); // the pool routes it a little later: a new remainder each time
      expect(await answer).toBe(i);
    }
    expect(clock.now()).toBeLessThan(1000); // no sweep has run meanwhile
    expect(system.metrics().asksPending).toBe(0);
    expect(asksOf(system).deadlines.held).toBe(1); // the callers' 1000 ms list; the workers' remainders left nothing
  });

  it("ends a worker ask at its caller's deadline when routed late, and counts it against the worker", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Silent = defineActor({ receive: (_s, _m, ctx) => void ctx.deferReply() });
    await system.start(pool('p', Silent, { size: 1 }));
    const answer = system
      .lookup('/p')!
      .ask('x', { timeoutMs: 100 })
      .catch((e: unknown) => e);
    clock.advance(0.5); // the worker's ask gets 99.5 ms: a one-off timeout
    await nextTurn();
    clock.advance(99.4);
    await nextTurn();
    expect(cellOf(system.lookup('/p/0')!).breaker!.context.failures).toBe(0);
    clock.advance(0.1);
    expect(await answer).toBeInstanceOf(TimeoutError);
    expect(cellOf(system.lookup('/p/0')!).breaker!.context.failures).toBe(1);
    expect(system.metrics().asksPending).toBe(0);
  });

  it('refuses bad pool options with a ConfigError naming them', async () => {
    const system = await startSystem();
    await expect(system.start(pool('p', Named, { size: 0 }))).rejects.toThrow(/size/);
    await expect(system.start(pool('p', Named, { size: 2, routing: 'random' as never }))).rejects.toThrow(/routing/);
    await expect(system.start(pool('p', Named, { size: 2, hedge: { afterMs: 10, max: 4 } }))).rejects.toThrow(/hedge\.max/);
    await expect(system.start(pool('p', Named, { size: 2, hedge: { afterMs: -1 } }))).rejects.toThrow(ConfigError);
    await expect(system.start(pool('p', Named, { size: 2, poolBreaker: { failureThreshold: 0 } }))).rejects.toThrow(/poolBreaker\.failureThreshold/);
    await expect(system.start(pool('p', Named, { size: 2, poolBreaker: 'on' as never }))).rejects.toThrow(/poolBreaker/);
    await expect(system.start(pool('p', Named, { size: 2, poolBreaker: { fallback: 1 } as never }))).rejects.toThrow(/poolBreaker/);
  });
});

describe('the seed problem: a component whose latency jumps to 1–3 s', () => {
  it('keeps at least 99% of asks within their deadline with hedging on a pool of 3', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const random = seededRandom(99);
    const JUMP_AT = 1000;
    // Normal latency 5–15 ms; after the jump, worker 0 answers in 1–3 s.
    const Component = latencyWorker((name, now) => (name === '0' && now >= JUMP_AT ? 1000 + 2000 * random() : 5 + 10 * random()));
    await system.start(pool('exchange', Component, { size: 3, hedge: { afterMs: 'p95', max: 2, initialMs: 30 }, args: { clock } }));
    const exchange = system.lookup('/exchange') as ActorRef<number>;
    const DEADLINE = 300;
    const total = 1500;
    let within = 0;
    let ended = 0;
    for (let i = 0; i < total; i++) {
      const sent = clock.now();
      void exchange.ask(i, { timeoutMs: DEADLINE }).then(
        () => {
          ended++;
          if (clock.now() - sent <= DEADLINE) within++;
        },
        () => ended++,
      );
      clock.advance(2);
      await nextTurn();
    }
    await until(() => {
      clock.advance(10);
      return ended === total;
    });
    const share = within / total;
    console.info(`seed problem: ${(share * 100).toFixed(2)}% of ${total} asks within ${DEADLINE} ms (worker 0 slowed to 1–3 s at t=${JUMP_AT} ms)`);
    expect(share).toBeGreaterThanOrEqual(0.99);
  });
});

describe('pool lifecycle', () => {
  it('starts its workers one after another, each after the previous async init settled', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const journal: string[] = [];
    const SlowStart = defineActor<null, unknown>({
      async init(_a, ctx) {
        journal.push(`begin ${ctx.name}`);
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
        journal.push(`end ${ctx.name}`);
        return null;
      },
      receive: (_s, m, ctx) => void ctx.reply(m),
    });
    const started = system.start(pool('p', SlowStart, { size: 3 }));
    for (let i = 0; i < 3; i++) {
      for (let t = 0; t < 5; t++) await nextTurn();
      clock.advance(10);
    }
    const ref = await started;
    expect(journal).toEqual(['begin 0', 'end 0', 'begin 1', 'end 1', 'begin 2', 'end 2']);
    expect(await ref.ask('ok')).toBe('ok');
  });

  it("keeps its workers' refs across a restart of the pool", async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const Worker = defineActor<null, string>({
      receive(_s, m, ctx) {
        if (m === 'crash') throw new Error('crash');
        ctx.reply(ctx.name);
      },
    });
    // the pool gives up after one worker crash: its parent restarts it with its workers
    await system.start(supervisor('s', { strategy: 'one-for-one', children: [pool('p', Worker, { size: 2, intensity: { maxRestarts: 0, withinMs: 1000 } })] }));
    const worker = system.lookup('/s/p/0') as ActorRef<string>;
    worker.tell('crash');
    await until(() => system.tree()[0]!.children[0]!.restarts === 1 && system.tree()[0]!.children[0]!.status === 'running');
    expect(system.lookup('/s/p/0')).toBe(worker);
    expect(await worker.ask('who')).toBe('0');
  });
});

describe('pool cancellation', () => {
  /** Never answers; records each attempt's signal. */
  function holder(signals: AbortSignal[]) {
    return defineActor<null, unknown>({
      receive(_s, _m, ctx) {
        signals.push(ctx.signal!);
        ctx.deferReply();
      },
    });
  }

  it("aborts the worker's signal when the caller of a pool ask gives up", async () => {
    const system = await startSystem();
    const signals: AbortSignal[] = [];
    const p = await system.start(pool('p', holder(signals), { size: 2 }));
    const controller = new AbortController();
    const asked = p.ask('x', { signal: controller.signal }).catch((e: unknown) => e);
    await until(() => signals.length === 1);
    controller.abort(new Error('gone'));
    expect(((await asked) as Error).message).toBe('gone');
    expect(signals[0]!.aborted).toBe(true);
  });

  it("aborts a hedged loser's signal once another worker has answered", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const signals: AbortSignal[] = [];
    let answered = 0;
    const Mixed = defineActor<null, unknown>({
      receive(_s, m, ctx) {
        signals.push(ctx.signal!);
        if (ctx.name === '0') return void ctx.deferReply(); // slow: never answers
        answered++;
        ctx.reply(m);
      },
    });
    const p = await system.start(pool('p', Mixed, { size: 2, hedge: { afterMs: 10 } }));
    const asked = p.ask('x', { timeoutMs: 1000 });
    for (let i = 0; i < 3; i++) await nextTurn();
    clock.advance(10); // the hedge goes to worker 1, which answers
    expect(await asked).toBe('x');
    expect(answered).toBe(1);
    expect(signals[0]!.aborted).toBe(true); // worker 0's attempt is no longer needed
  });
});

describe('pool admission control', () => {
  it('refuses asks beyond maxInFlight at once with OverloadedError, lowest priorities first', async () => {
    const system = await startSystem();
    const replies: ((v: unknown) => boolean)[] = [];
    const Holding = defineActor<null, unknown>({ receive: (_s, _m, ctx) => void replies.push(ctx.deferReply()) });
    const p = await system.start(pool('p', Holding, { size: 2, maxInFlight: 2 })); // 4 at priority 0–2
    const normal = [1, 2, 3].map((i) => p.ask(i, { timeoutMs: 60_000 }));
    const low = p.ask('low', { priority: 4, timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(await low).toBeInstanceOf(OverloadedError); // priority 4 may fill half: 2 < 3 in flight
    const fourth = p.ask(4, { timeoutMs: 60_000 });
    const fifth = p.ask(5, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(await fifth).toBeInstanceOf(OverloadedError); // refused at once, not after a timeout
    await until(() => replies.length === 4);
    for (const [i, reply] of replies.entries()) reply(`answer ${i}`);
    expect((await Promise.all([...normal, fourth])).length).toBe(4);
    void p.ask('again', { priority: 4, timeoutMs: 60_000 }).catch(() => {});
    await until(() => replies.length === 5); // places freed: admitted again, even at priority 4
  });
});

describe('hedged pool after the caller left (review)', () => {
  it('does not fail over to another worker once the caller gave up', async () => {
    const system = await startSystem();
    const handled: string[] = [];
    const Worker = defineActor<null, unknown>({
      receive: (_s, m, ctx) => {
        handled.push(`${ctx.name}:${String(m)}`);
        ctx.deferReply();
      },
    });
    const p = await system.start(pool('p', Worker, { size: 2, hedge: { afterMs: 5_000, max: 2 } }));
    const controller = new AbortController();
    const asked = p.ask('job', { timeoutMs: 10_000, signal: controller.signal }).catch((e: unknown) => e);
    await until(() => handled.length === 1);
    controller.abort(new Error('caller left'));
    await asked;
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(handled).toEqual(['0:job']);
  });
});

describe('hedging uses spare capacity only', () => {
  /** Holds its mailbox for `ms` per ask (an async handler), answering with its name. */
  function busyWorker(ms: number) {
    return defineActor<{ clock: Clock }, unknown, { clock: Clock }>({
      init: (args) => args,
      receive: (state, _msg, ctx) =>
        new Promise<void>((resolve) =>
          state.clock.setTimeout(() => {
            ctx.reply(ctx.name);
            resolve();
          }, ms),
        ),
    });
  }

  it('sends no hedged attempt while every worker is busy (a burst is not doubled)', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    const handled: string[] = [];
    const Worker = busyWorker(50);
    const Counting = defineActor<{ clock: Clock }, unknown, { clock: Clock }>({
      ...Worker,
      receive(state, msg, ctx) {
        handled.push(ctx.name);
        return Worker.receive!(state, msg, ctx);
      },
    });
    await system.start(pool('gw', Counting, { size: 3, routing: 'least-busy', hedge: { afterMs: 10, max: 2 }, args: { clock } }));
    const gw = system.lookup('/gw')!;
    const asks = Array.from({ length: 30 }, (_, i) => gw.ask(i, { timeoutMs: 5000 }));
    await settleOn(clock, 700, 5);
    expect(await Promise.all(asks)).toHaveLength(30);
    expect(handled).toHaveLength(30); // one attempt per ask: no hedge found a free worker
  });

  it('hedges onto a free worker when the first one is slow', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    const Component = latencyWorker((name) => (name === '0' ? 1000 : 5));
    await system.start(pool('gw', Component, { size: 3, routing: 'round-robin', hedge: { afterMs: 20, max: 2 }, args: { clock } }));
    const answer = system.lookup('/gw')!.ask('x', { timeoutMs: 500 });
    await settleOn(clock, 40);
    expect(await answer).toEqual({ from: '1', msg: 'x' });
  });

  it('hedges a pool without a hedge option while the system is in the latency mode', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Component = latencyWorker((name) => (name === '0' ? 1000 : 5));
    await system.start(pool('gw', Component, { size: 3, routing: 'round-robin', args: { clock } }));
    const gw = system.lookup('/gw')!;
    const slow = gw.ask('before', { timeoutMs: 100 }).catch((e: unknown) => e);
    await settleOn(clock, 200, 10);
    expect(await slow).toBeInstanceOf(TimeoutError); // worker 0, no hedge: it waits it out
    system.setMode('latency', 'test');
    const warm = [gw.ask('warm', { timeoutMs: 500 }), gw.ask('warm', { timeoutMs: 500 })]; // workers 1 and 2
    await settleOn(clock, 10);
    expect(await Promise.all(warm)).toMatchObject([{ from: '1' }, { from: '2' }]);
    const hedged = gw.ask('during', { timeoutMs: 500 });
    await settleOn(clock, 200, 10);
    expect(await hedged).toEqual({ from: '1', msg: 'during' }); // worker 0 was asked first, 1 answered
  });
});
