import { describe, expect, it } from 'vitest';
import { type Clock, defineActor, isGenesisError, OverloadedError, pool, resilient, SimulatedClock } from '../../src/index.js';
import { ServiceTime } from '../../src/core/service-time.js';
import { nextTurn, startSystem } from '../helpers.js';

/** Answers each ask after `ms` of the given clock (an async handler: the mailbox is held meanwhile). */
function slowEcho(clock: Clock, ms: number) {
  return defineActor<null, unknown>({
    receive: (_s, msg, ctx) =>
      new Promise<void>((resolve) => {
        clock.setTimeout(() => {
          ctx.reply(msg);
          resolve();
        }, ms);
      }),
  });
}

/** Lets the handlers settle and the next queued asks start, turn after turn. */
async function advance(clock: SimulatedClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await nextTurn();
  }
}

/**
 * A system on a SimulatedClock with an actor answering each ask after 100 ms, whose service time
 * is already learned (one ask handled).
 */
async function learnedEcho(options: { modes?: false } = { modes: false }) {
  const clock = new SimulatedClock();
  const system = await startSystem({ clock, ...options });
  const echo = system.spawn(slowEcho(clock, 100));
  const first = echo.ask('learn', { timeoutMs: 1000 });
  await advance(clock, 110);
  expect(await first).toBe('learn');
  return { clock, system, echo };
}

describe('ServiceTime', () => {
  it('takes the first sample as the mean, then follows new samples', () => {
    const service = new ServiceTime();
    service.record(100);
    expect(service.ms).toBe(100);
    for (let i = 0; i < 20; i++) service.record(10);
    expect(service.ms).toBeLessThan(12);
  });

  it('lets one stalled handler count for at most four times the mean', () => {
    const service = new ServiceTime();
    service.record(10);
    service.record(3000); // a stall
    expect(service.ms).toBe(17.5); // 10 + 0.25 × (40 − 10)
    for (let i = 0; i < 8; i++) service.record(2000); // a real slowdown still shows within a few asks
    expect(service.ms).toBeGreaterThan(500);
  });

  it('says an ask misses its deadline when the queue ahead and its own handling outlast it', () => {
    const service = new ServiceTime();
    service.record(100);
    expect(service.wouldMiss(2, 350)).toBe(false); // 300 ms ≤ 350
    expect(service.wouldMiss(3, 350)).toBe(true); // 400 ms > 350
  });
});

describe('admission control of asks', () => {
  it('refuses at once with OverloadedError an ask that would wait past its deadline, and serves the ones admitted', async () => {
    const { clock, system, echo } = await learnedEcho();

    const outcomes: string[] = [];
    const asks = Array.from({ length: 8 }, (_, i) =>
      echo.ask(i, { timeoutMs: 450 }).then(
        () => outcomes.push(`ok ${i}`),
        (e: unknown) => outcomes.push(`${isGenesisError(e, 'OVERLOADED') ? 'refused' : 'failed'} ${i} at ${clock.now()}`),
      ),
    );
    await nextTurn();
    const refusedAt = clock.now();
    // 1 in handling + 3 queued = 4 × 100 ms fit in 450 ms; the fifth would not: refused now.
    expect(outcomes).toEqual([`refused 4 at ${refusedAt}`, `refused 5 at ${refusedAt}`, `refused 6 at ${refusedAt}`, `refused 7 at ${refusedAt}`]);
    await advance(clock, 500);
    await Promise.all(asks);
    expect(outcomes.filter((o) => o.startsWith('ok'))).toEqual(['ok 0', 'ok 1', 'ok 2', 'ok 3']);
    expect(system.deadLetters.counts()).toEqual({});
  });

  it('refuses the lowest priorities first', async () => {
    const { clock, echo } = await learnedEcho();
    const low = Array.from({ length: 4 }, (_, i) => echo.ask(`low ${i}`, { timeoutMs: 450, priority: 4 }).catch((e: unknown) => e));
    // Three low-priority asks are queued: an urgent one still fits (it jumps them) …
    const urgent = echo.ask('urgent', { timeoutMs: 250, priority: 0 }).catch((e: unknown) => e);
    // … a low one no longer does.
    const late = await echo.ask('low late', { timeoutMs: 450, priority: 4 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(OverloadedError);
    await advance(clock, 600);
    expect(await urgent).toBe('urgent');
    // The urgent ask went first: the last low one, admitted before it came, is now too late —
    // it expires in the mailbox and is never started (admission cannot foresee later urgency).
    const lows = await Promise.all(low);
    expect(lows.slice(0, 3)).toEqual(['low 0', 'low 1', 'low 2']);
    expect(isGenesisError(lows[3], 'TIMEOUT')).toBe(true);
  });

  it('never refuses priority 0: work that must be done waits its turn', async () => {
    const { clock, echo } = await learnedEcho();
    const asks = Array.from({ length: 8 }, (_, i) => echo.ask(i, { timeoutMs: 450, priority: 0 }).catch((e: unknown) => e));
    await nextTurn();
    await advance(clock, 500);
    const results = await Promise.all(asks);
    expect(results.filter((r) => r instanceof OverloadedError)).toHaveLength(0);
    expect(results.slice(0, 4)).toEqual([0, 1, 2, 3]);
  });

  it('does not refuse before it knows the service time, nor a synchronous actor that keeps up', async () => {
    const system = await startSystem({ modes: false });
    const echo = system.spawn(defineActor<null, number>({ receive: (_s, m, ctx) => void ctx.reply(m) }));
    const replies = await Promise.all(Array.from({ length: 5000 }, (_, i) => echo.ask(i, { timeoutMs: 1000 })));
    expect(replies).toHaveLength(5000);
  });

  it('tells the modes it refused: overload alone raises the mode to safe, never to emergency', async () => {
    const { clock, system, echo } = await learnedEcho({});
    const asks = Array.from({ length: 3000 }, (_, i) => echo.ask(i, { timeoutMs: 450 }).catch((e: unknown) => e));
    await nextTurn();
    expect(system.mode).toBe('safe');
    await advance(clock, 600);
    const results = await Promise.all(asks);
    expect(results.filter((r) => r instanceof OverloadedError).length).toBe(2996);
  });
});

describe("resilient() 'auto' timeouts over asks count service time, not queueing time", () => {
  async function queuedCalls(viaPool: boolean, passSignal: boolean) {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    let target = system.spawn(slowEcho(clock, 50), { breaker: false });
    if (viaPool) target = await system.start(pool('gw', slowEcho(clock, 50), { size: 1, breaker: false }));
    const call = resilient(
      // after an await, only the signal links the ask to its attempt
      async (ctx, n: number) => {
        if (!passSignal) return target.ask(n, { timeoutMs: 5000 });
        await Promise.resolve();
        return target.ask(n, { timeoutMs: 5000, signal: ctx.signal });
      },
      { timeoutMs: 'auto', autoTimeout: { initialMs: 200 }, minSamples: 3, clock },
    );
    // learn: three calls of 50 ms service each, one after another → 'auto' = 2.5 × 50 = 125 ms
    for (let i = 0; i < 3; i++) {
      const learning = call(i);
      await advance(clock, 60);
      await learning;
    }
    expect(call.timeoutMs()).toBe(125);
    // ten at once: the last waits 450 ms in the mailbox, far past 125 ms, yet none times out
    const results = Array.from({ length: 10 }, (_, i) => call(100 + i).catch((e: unknown) => e));
    await advance(clock, 600);
    const settled = await Promise.all(results);
    expect(settled).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
    expect(call.stats.timeouts).toBe(0);
    expect(call.latency.p95).toBeLessThan(60); // the window holds service times
  }

  it('for an ask made in the attempt', () => queuedCalls(false, false));
  it('for an ask given the attempt signal after an await', () => queuedCalls(false, true));
  it('through a pool that forwards the ask to a worker', () => queuedCalls(true, false));
});
