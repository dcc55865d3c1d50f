import { afterEach, describe, expect, it } from 'vitest';
import { Breaker } from '../../src/resilience/breaker.js';
import { SimulatedClock } from '../../src/util/clock.js';
import { CircuitOpenError, ConfigError, OverloadedError, TimeoutError } from '../../src/util/errors.js';
import { type AttemptContext, resilient, type ResilientPolicy } from '../../src/resilience/resilient.js';

/** Lets promise callbacks run (no real timer is involved: every delay is on the simulated clock). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Moves simulated time forward 1 ms at a time, letting promise callbacks run at each step. */
async function advance(clock: SimulatedClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await flush();
  }
}

/** Tracks a promise's outcome without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  promise.then(
    (value) => Object.assign(state, { done: true, value }),
    (error) => Object.assign(state, { done: true, error }),
  );
  return state;
}

/** A fn whose calls resolve (or reject) after a delay on the simulated clock, recording each
 *  call's context and when it started; `hang` never settles. */
function target(clock: SimulatedClock) {
  const calls: { ctx: AttemptContext; at: number; signal: AbortSignal }[] = [];
  let plan: (call: number, ctx: AttemptContext) => { ms: number; value?: unknown; error?: unknown } | 'hang' = () => ({ ms: 1, value: 'ok' });
  const fn = (ctx: AttemptContext, ...args: unknown[]): Promise<unknown> => {
    calls.push({ ctx, at: clock.now(), signal: ctx.signal });
    const step = plan(calls.length, ctx);
    return new Promise((resolve, reject) => {
      if (step === 'hang') return;
      clock.setTimeout(() => (step.error !== undefined ? reject(step.error) : resolve(step.value ?? args)), step.ms);
    });
  };
  return {
    fn,
    calls,
    set plan(p: typeof plan) {
      plan = p;
    },
  };
}

const stoppers: (() => void)[] = [];
afterEach(() => {
  for (const stop of stoppers.splice(0)) stop();
});

function wrap<A extends unknown[], R>(fn: (ctx: AttemptContext, ...args: A) => Promise<R>, policy: ResilientPolicy<A, Awaited<R>>) {
  const call = resilient(fn, { random: () => 0, ...policy });
  stoppers.push(call.stop);
  return call;
}

describe('resilient: basics', () => {
  it('runs fn({ signal, attempt, hedge }, ...args) and returns its value', async () => {
    const clock = new SimulatedClock();
    const seen: unknown[] = [];
    const call = wrap(
      async (ctx: AttemptContext, a: number, b: string) => {
        seen.push(ctx.attempt, ctx.hedge, ctx.signal.aborted);
        return `${a}${b}`;
      },
      { clock, timeoutMs: 100, breaker: true },
    );
    expect(await call(4, '2')).toBe('42');
    expect(seen).toEqual([1, 0, false]);
    expect(call.stats).toMatchObject({ calls: 1, tries: 1, successes: 1, failures: 0 });
  });

  it('accepts a synchronous fn and a synchronous throw', async () => {
    const call = wrap((_ctx: AttemptContext) => 7 as unknown as Promise<number>, {});
    expect(await call()).toBe(7);
    const boom = wrap((): Promise<never> => {
      throw new Error('sync');
    }, {});
    await expect(boom()).rejects.toThrow('sync');
  });

  it('creates an AbortController only when fn reads ctx.signal', async () => {
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const clock = new SimulatedClock();
      const blind = wrap(async () => 1, { clock, timeoutMs: 50, breaker: true });
      for (let i = 0; i < 100; i++) await blind();
      expect(made).toBe(0);
      const reader = wrap(async (ctx: AttemptContext) => ctx.signal.aborted, { clock, timeoutMs: 50 });
      await reader();
      expect(made).toBe(1);
    } finally {
      globalThis.AbortController = Original;
    }
  });

  it('shares one clock timer among all pending deadlines (no timer per call)', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => 'hang';
    const call = wrap(t.fn, { clock, timeoutMs: 100 });
    const pending = Array.from({ length: 200 }, () => track(call()));
    expect(clock.pendingTimers).toBe(1);
    await advance(clock, 100);
    expect(pending.every((p) => p.error instanceof TimeoutError)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('resilient: timeout', () => {
  it('leaves no timer behind once the calls have settled', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 5, value: 'ok' });
    const call = wrap(t.fn, { clock, timeoutMs: 30_000 });
    const result = track(call());
    await advance(clock, 1);
    expect(clock.pendingTimers).toBe(2); // the target's, and the deadline sweep
    await advance(clock, 4);
    expect(result.value).toBe('ok');
    expect(clock.pendingTimers).toBe(0);
  });

  it('fails with TimeoutError at timeoutMs, not before, and aborts the call', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => 'hang';
    const call = wrap(t.fn, { clock, timeoutMs: 50, name: 'exchange' });
    const result = track(call());
    await advance(clock, 49);
    expect(result.done).toBe(false);
    expect(t.calls[0]!.signal.aborted).toBe(false);
    await advance(clock, 1);
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect(result.error).toMatchObject({ code: 'TIMEOUT', path: 'exchange', timeoutMs: 50 });
    expect(t.calls[0]!.signal.aborted).toBe(true);
    expect(t.calls[0]!.signal.reason).toBe(result.error);
    expect(call.stats.timeouts).toBe(1);
  });

  it('a late result after the timeout is ignored', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 80, value: 'late' });
    const call = wrap(t.fn, { clock, timeoutMs: 50 });
    const result = track(call());
    await advance(clock, 100);
    expect(result.error).toBeInstanceOf(TimeoutError);
    expect(call.stats).toMatchObject({ successes: 0, failures: 1 });
  });

  it('a timeout counts as a failure for the breaker', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => 'hang';
    const transitions: string[] = [];
    const call = wrap(t.fn, {
      clock,
      timeoutMs: 20,
      breaker: { failureThreshold: 2, resetTimeoutMs: 1000 },
      onTransition: (from, to) => transitions.push(`${from}->${to}`),
    });
    const first = track(call());
    const second = track(call());
    await advance(clock, 20);
    expect(first.error).toBeInstanceOf(TimeoutError);
    expect(second.error).toBeInstanceOf(TimeoutError);
    expect(call.breaker!.state).toBe('open');
    expect(transitions).toEqual(['closed->open']);
    // open: refused at once, fn not called
    await expect(call()).rejects.toBeInstanceOf(CircuitOpenError);
    expect(t.calls).toHaveLength(2);
    expect(call.stats.rejected).toBe(1);
  });

  it("'auto' follows a latency shift (up and down)", async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    let latency = 10;
    t.plan = () => ({ ms: latency, value: 'ok' });
    const call = wrap(t.fn, { clock, timeoutMs: 'auto', autoTimeout: { minMs: 2, maxMs: 1000, initialMs: 500 }, minSamples: 10 });
    expect(call.timeoutMs()).toBe(500); // no data yet
    const batch = async (n: number) => {
      for (let i = 0; i < n; i += 8) {
        const results = Array.from({ length: 8 }, () => track(call()));
        await advance(clock, latency);
        expect(results.every((r) => r.value === 'ok')).toBe(true);
      }
    };
    await batch(600);
    expect(call.latency.p95).toBe(10);
    expect(call.timeoutMs()).toBe(25); // 2.5 × p95
    latency = 20; // slower, still under the current timeout
    await batch(600);
    expect(call.timeoutMs()).toBe(50);
    latency = 4;
    await batch(600);
    expect(call.timeoutMs()).toBe(10);
  });

  it("'auto' grows back when latency jumps past the timeout (timeouts are censored samples)", async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    let latency = 10;
    t.plan = () => ({ ms: latency, value: 'ok' });
    const call = wrap(t.fn, { clock, timeoutMs: 'auto', autoTimeout: { minMs: 2, maxMs: 10_000 }, minSamples: 10 });
    for (let i = 0; i < 64; i++) {
      const results = Array.from({ length: 8 }, () => track(call()));
      await advance(clock, 10);
      expect(results.every((r) => r.done)).toBe(true);
    }
    expect(call.timeoutMs()).toBe(25);
    latency = 60; // beyond the 25 ms timeout: calls time out at first
    let timeouts = 0;
    for (let round = 0; round < 200 && call.timeoutMs() <= 60; round++) {
      const ms = call.timeoutMs();
      const results = Array.from({ length: 8 }, () => track(call()));
      await advance(clock, Math.min(ms, 60));
      timeouts += results.filter((r) => r.error instanceof TimeoutError).length;
    }
    expect(timeouts).toBeGreaterThan(0);
    expect(call.timeoutMs()).toBeGreaterThan(60);
    const last = track(call());
    await advance(clock, 60);
    expect(last.value).toBe('ok');
  });
});

describe('resilient: retry', () => {
  it('retries with exponential backoff base × 2^n, passing the attempt number', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => (n < 4 ? { ms: 1, error: new Error(`fail ${n}`) } : { ms: 1, value: 'ok' });
    const call = wrap(t.fn, { clock, retry: { max: 5, baseMs: 100, maxMs: 250, jitter: 0 } });
    const result = track(call());
    await advance(clock, 1000);
    expect(result.value).toBe('ok');
    // attempt ends 1 ms after it starts; backoffs 100, 200, 250 (capped)
    expect(t.calls.map((c) => [c.at, c.ctx.attempt])).toEqual([
      [0, 1],
      [101, 2],
      [302, 3],
      [553, 4],
    ]);
    expect(call.stats).toMatchObject({ calls: 1, tries: 4, retries: 3, failures: 3, successes: 1 });
  });

  it('jitter takes up to `jitter` of each backoff off, from the random source', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => (n < 2 ? { ms: 1, error: new Error('x') } : { ms: 1, value: 'ok' });
    const call = wrap(t.fn, { clock, random: () => 0.5, retry: { baseMs: 100, jitter: 0.5 } });
    const result = track(call());
    await advance(clock, 200);
    expect(result.value).toBe('ok');
    expect(t.calls[1]!.at).toBe(1 + 75);
  });

  it('stops at the budget: no retry starts past budgetMs', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => ({ ms: 1, error: new Error(`fail ${n}`) });
    const call = wrap(t.fn, { clock, retry: { max: 10, baseMs: 100, jitter: 0, budgetMs: 250 } });
    const result = track(call());
    await advance(clock, 2000);
    // tries at 0 and 101; the next would wait 200 ms, starting at 302 > 250: stop
    expect(t.calls.map((c) => c.at)).toEqual([0, 101]);
    expect((result.error as Error).message).toBe('fail 2');
  });

  it('gives up after max retries with the last error', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => ({ ms: 1, error: new Error(`fail ${n}`) });
    const call = wrap(t.fn, { clock, retry: { max: 2, baseMs: 10, jitter: 0 } });
    const result = track(call());
    await advance(clock, 500);
    expect(t.calls).toHaveLength(3);
    expect((result.error as Error).message).toBe('fail 3');
  });

  it('retries timeouts, each try with its own deadline', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => (n === 1 ? 'hang' : { ms: 5, value: 'second' });
    const call = wrap(t.fn, { clock, timeoutMs: 30, retry: { max: 1, baseMs: 10, jitter: 0 } });
    const result = track(call());
    await advance(clock, 100);
    expect(result.value).toBe('second');
    expect(t.calls[0]!.signal.aborted).toBe(true);
    expect(t.calls[1]!.at).toBe(40);
  });

  it('never retries CircuitOpenError: the breaker opening ends the retries', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 1, error: new Error('down') });
    const call = wrap(t.fn, { clock, breaker: { failureThreshold: 2 }, retry: { max: 10, baseMs: 10, jitter: 0 } });
    const result = track(call());
    await advance(clock, 1000);
    expect(t.calls).toHaveLength(2); // the third try met the open breaker
    expect(result.error).toBeInstanceOf(CircuitOpenError);
    expect(call.stats).toMatchObject({ tries: 3, retries: 2, rejected: 1 });
  });

  it('never retries non-retryable errors: retryOn false, retryable: false, ConfigError', async () => {
    const clock = new SimulatedClock();
    for (const [error, retryOn] of [
      [Object.assign(new Error('fatal'), { retryable: false }), undefined],
      [new ConfigError('x', 'bad'), undefined],
      [new Error('business'), (e: unknown) => (e as Error).message !== 'business'],
    ] as const) {
      const t = target(clock);
      t.plan = () => ({ ms: 1, error });
      const call = wrap(t.fn, { clock, retry: { max: 5, baseMs: 1, ...(retryOn ? { retryOn } : {}) } });
      const result = track(call());
      await advance(clock, 100);
      expect(result.error).toBe(error);
      expect(t.calls).toHaveLength(1);
    }
  });

  it('retryOn sees the error and the attempt number', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 1, error: new Error('e') });
    const seen: number[] = [];
    const call = wrap(t.fn, {
      clock,
      retry: {
        max: 5,
        baseMs: 1,
        retryOn: (_e, attempt) => {
          seen.push(attempt);
          return attempt < 3;
        },
      },
    });
    const result = track(call());
    await advance(clock, 100);
    expect(result.done).toBe(true);
    expect(seen).toEqual([1, 2, 3]);
    expect(t.calls).toHaveLength(3);
  });
});

describe('resilient: hedge', () => {
  it('starts another attempt after afterMs; the first success wins, the loser is aborted', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => (n === 1 ? { ms: 100, value: 'slow' } : { ms: 10, value: 'fast' });
    const call = wrap(t.fn, { clock, timeoutMs: 500, hedge: { afterMs: 20, max: 2 } });
    const result = track(call());
    await advance(clock, 19);
    expect(t.calls).toHaveLength(1);
    await advance(clock, 1);
    expect(t.calls).toHaveLength(2);
    expect(t.calls.map((c) => c.ctx.hedge)).toEqual([0, 1]);
    await advance(clock, 10);
    expect(result.value).toBe('fast');
    expect(t.calls[0]!.signal.aborted).toBe(true);
    expect((t.calls[0]!.signal.reason as DOMException).name).toBe('AbortError');
    expect(t.calls[1]!.signal.aborted).toBe(false);
    expect(call.latency.max).toBe(10); // the winner's own latency
    expect(call.stats).toMatchObject({ hedges: 1, successes: 1 });
  });

  it('goes up to max attempts in parallel, aborting all losers', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => (n === 3 ? { ms: 5, value: 'third' } : 'hang');
    const call = wrap(t.fn, { clock, hedge: { afterMs: 10, max: 3 } });
    const result = track(call());
    await advance(clock, 100);
    expect(result.value).toBe('third');
    expect(t.calls.map((c) => c.at)).toEqual([0, 10, 20]);
    expect(t.calls.map((c) => c.signal.aborted)).toEqual([true, true, false]);
  });

  it('the first attempt winning cancels the pending hedge', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 5, value: 'ok' });
    const call = wrap(t.fn, { clock, hedge: { afterMs: 10, max: 3 } });
    const result = track(call());
    await advance(clock, 50);
    expect(result.value).toBe('ok');
    expect(t.calls).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fails when every started attempt failed; a timeout aborts every attempt', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = (n) => (n === 1 ? { ms: 15, error: new Error('first') } : { ms: 10, error: new Error('second') });
    const call = wrap(t.fn, { clock, hedge: { afterMs: 10, max: 2 } });
    const result = track(call());
    await advance(clock, 30);
    expect((result.error as Error).message).toBe('second');

    const t2 = target(clock);
    t2.plan = () => 'hang';
    const timed = wrap(t2.fn, { clock, timeoutMs: 40, hedge: { afterMs: 10, max: 3 }, breaker: { failureThreshold: 5 } });
    const r2 = track(timed());
    await advance(clock, 40);
    expect(r2.error).toBeInstanceOf(TimeoutError);
    expect(t2.calls.map((c) => c.signal.aborted)).toEqual([true, true, true]);
    expect(timed.breaker!.context.failures).toBe(1); // one try, one failure
  });

  it("'p95' hedges only once the window knows the p95, then after it", async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    let latency = 10;
    t.plan = () => ({ ms: latency, value: 'ok' });
    const call = wrap(t.fn, { clock, hedge: { afterMs: 'p95', max: 2 }, minSamples: 10 });
    for (let i = 0; i < 10; i++) {
      const r = track(call());
      await advance(clock, 10);
      expect(r.value).toBe('ok');
    }
    expect(call.stats.hedges).toBe(0);
    latency = 50;
    const before = t.calls.length;
    const r = track(call());
    await advance(clock, 10);
    expect(t.calls.length).toBe(before + 2); // hedged at p95 = 10 ms
    await advance(clock, 50);
    expect(r.value).toBe('ok');
  });
});

describe('resilient: fallback', () => {
  it('a value or a function of (error, ...args), counted as a degraded success', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 1, error: new Error('down') });
    const byValue = wrap(t.fn, { clock, fallback: 'cached' });
    const r1 = track(byValue('x'));
    await advance(clock, 2);
    expect(r1.value).toBe('cached');
    expect(byValue.stats).toMatchObject({ fallbacks: 1, successes: 0, failures: 1 });

    const seen: unknown[] = [];
    const byFunction = wrap(t.fn, {
      clock,
      fallback: async (error: unknown, ...args: unknown[]) => {
        seen.push((error as Error).message, ...args);
        return 'computed';
      },
    });
    const r2 = track(byFunction('a', 1));
    await advance(clock, 2);
    expect(r2.value).toBe('computed');
    expect(seen).toEqual(['down', 'a', 1]);
  });

  it('answers after retries are exhausted, and when the circuit is open', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 1, error: new Error('down') });
    const errors: unknown[] = [];
    const call = wrap(t.fn, {
      clock,
      breaker: { failureThreshold: 3 },
      retry: { max: 1, baseMs: 5, jitter: 0 },
      fallback: (error: unknown) => {
        errors.push(error);
        return 'fb';
      },
    });
    const r1 = track(call());
    await advance(clock, 20);
    expect(r1.value).toBe('fb');
    expect(t.calls).toHaveLength(2);
    const r2 = track(call());
    await advance(clock, 20);
    expect(r2.value).toBe('fb');
    expect(errors.at(-1)).toBeInstanceOf(CircuitOpenError);
    expect(call.stats.fallbacks).toBe(2);
  });

  it('a fallback that throws: the original error, with the fallback error as cause', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    const original = new Error('original');
    t.plan = () => ({ ms: 1, error: original });
    const fallbackError = new Error('fallback broke');
    const call = wrap(t.fn, {
      clock,
      fallback: () => {
        throw fallbackError;
      },
    });
    const result = track(call());
    await advance(clock, 2);
    expect(result.error).toBe(original);
    expect((result.error as Error).cause).toBe(fallbackError);
    expect(call.stats).toMatchObject({ fallbacks: 0, fallbackFailures: 1 });
  });

  it('essential breaker: never refuses — the fallback while open, one probe per reset period', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    let up = false;
    t.plan = () => (up ? { ms: 5, value: 'live' } : { ms: 1, error: new Error('down') });
    const call = wrap(t.fn, { clock, breaker: { essential: true, failureThreshold: 2, resetTimeoutMs: 100 }, fallback: 'stale' });
    for (let i = 0; i < 2; i++) {
      const r = track(call());
      await advance(clock, 2);
      expect(r.value).toBe('stale');
    }
    expect(call.breaker!.state).toBe('open');
    const open = track(call());
    await flush();
    expect(open.value).toBe('stale');
    expect(t.calls).toHaveLength(2); // not called while open
    await advance(clock, 100);
    expect(call.breaker!.state).toBe('halfOpen');
    up = true;
    const probe = track(call());
    const others = [track(call()), track(call())];
    await flush();
    expect(others.map((o) => o.value)).toEqual(['stale', 'stale']); // one probe, the rest served
    expect(t.calls).toHaveLength(3);
    await advance(clock, 5);
    expect(probe.value).toBe('live');
    expect(call.breaker!.state).toBe('closed');
  });
  it('essential breaker without timeoutMs: a probe that never ends does not serve the fallback for good', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    let mode: 'down' | 'hang' | 'up' = 'down';
    t.plan = () => (mode === 'hang' ? 'hang' : mode === 'up' ? { ms: 5, value: 'live' } : { ms: 1, error: new Error('down') });
    const call = wrap(t.fn, { clock, breaker: { essential: true, failureThreshold: 1, resetTimeoutMs: 100 }, fallback: 'stale' });
    track(call());
    await advance(clock, 2);
    expect(call.breaker!.state).toBe('open');
    await advance(clock, 100);
    mode = 'hang';
    const stuck = track(call()); // the half-open probe: never settles, no timeout to end it
    await flush();
    expect(t.calls).toHaveLength(2);
    await advance(clock, 99);
    expect(await call()).toBe('stale'); // the probe slot is still taken
    mode = 'up';
    await advance(clock, 1);
    const probe = track(call()); // a reset period later: a new probe
    await advance(clock, 5);
    expect(t.calls).toHaveLength(3);
    expect(probe.value).toBe('live');
    expect(call.breaker!.state).toBe('closed');
    expect(stuck.done).toBe(false);
  });
});

describe('resilient: composition with a shared breaker', () => {
  it('two wrappers of one target share its breaker and latency window', async () => {
    const clock = new SimulatedClock();
    const breaker = new Breaker({ failureThreshold: 2 }, { clock });
    stoppers.push(() => breaker.stop());
    const t = target(clock);
    t.plan = () => ({ ms: 1, error: new Error('down') });
    const a = wrap(t.fn, { clock, breaker });
    const b = wrap(t.fn, { clock, breaker });
    expect(a.latency).toBe(breaker.latency);
    const ra = track(a());
    const rb = track(b());
    await advance(clock, 2);
    expect(ra.error).toBeInstanceOf(Error);
    expect(rb.error).toBeInstanceOf(Error);
    expect(breaker.state).toBe('open');
    await expect(a()).rejects.toBeInstanceOf(CircuitOpenError);
    a.stop(); // does not stop a shared breaker
    expect(breaker.actor.getSnapshot().status).toBe('active');
  });
});

describe('resilient: bad input', () => {
  const fn = async () => 1;
  it.each([
    ['fn', () => resilient('nope' as never)],
    ['timeoutMs', () => resilient(fn, { timeoutMs: 0 })],
    ['timeoutMs', () => resilient(fn, { timeoutMs: 'soon' as never })],
    ['hedge.max', () => resilient(fn, { hedge: { afterMs: 10, max: 4 } })],
    ['hedge.afterMs', () => resilient(fn, { hedge: { afterMs: 0 } })],
    ['retry.max', () => resilient(fn, { retry: { max: -1 } })],
    ['retry.baseMs', () => resilient(fn, { retry: { baseMs: 0 } })],
    ['retry.budgetMs', () => resilient(fn, { retry: { budgetMs: -5 } })],
    ['retry.jitter', () => resilient(fn, { retry: { jitter: 2 } })],
    ['retry.retryOn', () => resilient(fn, { retry: { retryOn: true as never } })],
    ['breaker.failureThreshold', () => resilient(fn, { breaker: { failureThreshold: 0 } })],
    ['breaker.successThreshold', () => resilient(fn, { breaker: { successThreshold: -1 } })],
    ['fallback', () => resilient(fn, { breaker: { essential: true } })],
    ['autoTimeout.maxMs', () => resilient(fn, { autoTimeout: { minMs: 100, maxMs: 10 } })],
    ['policy.retries', () => resilient(fn, { retries: 3 } as never)],
  ])('ConfigError naming %s', (option, make) => {
    let error: unknown;
    try {
      make();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
  });
});

describe('call.withSignal: the caller can cancel', () => {
  it("abandons the try in flight when the caller's signal aborts: attempts aborted, breaker not told, no retry or fallback", async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => 'hang';
    const breaker = new Breaker({ failureThreshold: 1 }, { clock });
    const call = wrap(t.fn, { clock, breaker, retry: { max: 3, baseMs: 1 }, fallback: 'fallback' });
    const controller = new AbortController();
    const result = track(call.withSignal(controller.signal)());
    await advance(clock, 5);
    expect(t.calls).toHaveLength(1);
    controller.abort(new Error('caller left'));
    await flush();
    expect(result.done).toBe(true);
    expect((result.error as Error).message).toBe('caller left');
    expect(t.calls[0]!.signal.aborted).toBe(true);
    await advance(clock, 20);
    expect(t.calls).toHaveLength(1); // no retry
    expect(breaker.state).toBe('closed'); // a caller giving up is not a failure of the target
  });

  it('rejects at once for an already aborted signal, and is the plain call without one', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    const call = wrap(t.fn, { clock });
    const aborted = AbortSignal.abort(new Error('too late'));
    await expect(call.withSignal(aborted)()).rejects.toThrow('too late');
    expect(t.calls).toHaveLength(0);
    expect(call.withSignal(undefined)).toBe(call);
    expect(() => call.withSignal({} as AbortSignal)).toThrow(ConfigError);
  });
});

describe('recovery', () => {
  it("is back within a second of a 15 s fault's end with the default breaker", async () => {
    const clock = new SimulatedClock();
    const call = wrap(async () => (clock.now() < 15_000 ? Promise.reject(new Error('down')) : 'up'), { clock, breaker: true });
    let firstSuccess = -1;
    for (let t = 0; t < 17_000 && firstSuccess < 0; t += 10) {
      const outcome = track(call());
      await flush();
      if (outcome.done && outcome.value === 'up') firstSuccess = clock.now();
      clock.advance(10);
    }
    expect(firstSuccess).toBeGreaterThanOrEqual(15_000);
    expect(firstSuccess - 15_000).toBeLessThanOrEqual(1000);
  });
});

describe('retry budget', () => {
  it('keeps retries a fraction of the calls when the target keeps failing (no retry storm)', async () => {
    const clock = new SimulatedClock();
    let tries = 0;
    const call = wrap(
      async () => {
        tries++;
        throw new Error('overloaded');
      },
      { clock, retry: { max: 3, baseMs: 1, jitter: 0, budget: { ratio: 0.2, minPerSecond: 10 } } },
    );
    const calls = 1000;
    const outcomes = Array.from({ length: calls }, () => track(call()));
    await advance(clock, 20); // every backoff (1, 2, 4 ms) has passed
    expect(outcomes.every((o) => o.done && o.error instanceof Error)).toBe(true);
    // without a budget: 4 tries a call (4000); with it: 1000 first tries + about 20% + the reserve
    expect(tries).toBeLessThanOrEqual(calls + 0.2 * calls + 10);
    expect(call.stats.retriesRefused).toBeGreaterThan(0);
  });

  it('still retries a quiet target from the reserve, and can be turned off', async () => {
    const clock = new SimulatedClock();
    let tries = 0;
    const flaky = async () => {
      tries++;
      if (tries < 3) throw new Error('blip');
      return 'ok';
    };
    const call = wrap(flaky, { clock, retry: { max: 3, baseMs: 1, jitter: 0 } });
    const result = track(call());
    await advance(clock, 10);
    expect(result.value).toBe('ok'); // two retries for one call: paid from the per-second reserve
    expect(() => wrap(flaky, { clock, retry: { budget: { ratio: -1 } } })).toThrow(/retry\.budget\.ratio/);
    expect(() => wrap(flaky, { clock, retry: { budget: false } })).not.toThrow();
  });
});

describe('bulkhead', () => {
  it('runs maxConcurrent calls, queues maxQueue more in order, and refuses the rest at once with OverloadedError', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => ({ ms: 10, value: 'done' });
    const call = wrap(t.fn, { clock, bulkhead: { maxConcurrent: 2, maxQueue: 1 } });
    const outcomes = [track(call()), track(call()), track(call()), track(call())];
    await flush();
    expect(t.calls).toHaveLength(2); // two running, one waiting
    expect(outcomes[3]!.error).toBeInstanceOf(OverloadedError); // refused at once, not timed out
    expect(call.stats.overloaded).toBe(1);
    await advance(clock, 10);
    expect(t.calls).toHaveLength(3); // the waiting call got the first free slot
    await advance(clock, 10);
    expect(outcomes.slice(0, 3).map((o) => o.value)).toEqual(['done', 'done', 'done']);
  });

  it('lets a refused call degrade through the fallback, and checks its options', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => 'hang';
    const call = wrap(t.fn, { clock, bulkhead: { maxConcurrent: 1 }, fallback: 'busy' });
    track(call());
    expect(await call()).toBe('busy');
    expect(() => wrap(t.fn, { clock, bulkhead: { maxConcurrent: 0 } })).toThrow(/bulkhead\.maxConcurrent/);
    expect(() => wrap(t.fn, { clock, bulkhead: { maxConcurrent: 1, maxQueue: -1 } })).toThrow(/bulkhead\.maxQueue/);
  });
});

describe('cancellation while waiting (review)', () => {
  it('rejects a call queued at the bulkhead as soon as its caller gives up, and frees its place in the queue', async () => {
    const clock = new SimulatedClock();
    const t = target(clock);
    t.plan = () => 'hang';
    const call = wrap(t.fn, { clock, timeoutMs: 10_000, bulkhead: { maxConcurrent: 1, maxQueue: 1 } });
    track(call()); // holds the slot
    const controller = new AbortController();
    const queued = track(call.withSignal(controller.signal)());
    controller.abort(new Error('caller left'));
    await flush();
    expect((queued.error as Error).message).toBe('caller left');
    const next = track(call()); // the queue has room again
    await flush();
    expect(next.done).toBe(false);
  });

  it('rejects at once when the caller gives up during a retry backoff', async () => {
    const clock = new SimulatedClock();
    let calls = 0;
    const call = wrap(
      async () => {
        calls++;
        throw new Error('transient');
      },
      { clock, retry: { max: 3, baseMs: 1000, maxMs: 1000, jitter: 0 } },
    );
    const controller = new AbortController();
    const outcome = track(call.withSignal(controller.signal)());
    await flush();
    expect(calls).toBe(1);
    controller.abort(new Error('caller left'));
    await flush();
    expect((outcome.error as Error).message).toBe('caller left');
    expect(clock.pendingTimers).toBe(0); // the backoff timer is gone too
  });
});
