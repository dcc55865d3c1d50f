/**
 * The real clock under vitest fake timers. Fake timers reproduce Node's overflow rule (a delay
 * above 2^31−1 ms fires after 1 ms), so these tests show what production would do; a
 * SimulatedClock never had that rule and could not.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Breaker } from '../../src/resilience/breaker.js';
import { MAX_TIMER_MS, realClock } from '../../src/util/clock.js';
import { defineActor, TimeoutError } from '../../src/index.js';
import { nextTurn, startSystem } from '../helpers.js';

const LONG = 3e9;

/** Lets microtasks and setImmediate (left real) run: the scheduler and snapshot flushes. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextTurn();
}

beforeEach(() => {
  // setImmediate stays real (the scheduler needs it); performance is faked so that
  // realClock.now() moves with the fake timers.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('realClock', () => {
  it('fires a short timer after its delay, as a bare Node timer', () => {
    const fn = vi.fn();
    const handle = realClock.setTimeout(fn, 100);
    expect(typeof (handle as NodeJS.Timeout).ref).toBe('function'); // no wrapper on the short path
    vi.advanceTimersByTime(99);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('fires a timer longer than 2^31−1 ms neither after 1 ms nor after 2^31 ms, but at its delay', () => {
    const fn = vi.fn();
    realClock.setTimeout(fn, LONG);
    vi.advanceTimersByTime(1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(2 ** 31 - 1); // 2^31 ms in all
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(LONG - 2 ** 31 - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * LONG);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('fires a timer of exactly 2^31−1 ms at its delay', () => {
    const fn = vi.fn();
    realClock.setTimeout(fn, MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('cancels a long timer with clearTimeout, before and in the middle of its chain', () => {
    const early = vi.fn();
    realClock.clearTimeout(realClock.setTimeout(early, LONG));
    const late = vi.fn();
    const handle = realClock.setTimeout(late, LONG);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1000); // the second link is armed now
    realClock.clearTimeout(handle);
    vi.advanceTimersByTime(10 * LONG);
    expect(early).not.toHaveBeenCalled();
    expect(late).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never fires an infinite delay, and keeps one timer armed for it', () => {
    const fn = vi.fn();
    const handle = realClock.setTimeout(fn, Infinity);
    vi.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(1);
    realClock.clearTimeout(handle);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('durations above 2^31−1 ms on the real clock', () => {
  it('an ask with timeoutMs 3e9 waits without spinning its deadline timer, then times out at 3e9', async () => {
    const system = await startSystem({ store: false });
    const ref = system.spawn(defineActor<null, unknown>({ receive: (_s, _m, ctx) => void ctx.deferReply() }));
    let outcome: unknown = 'pending';
    void ref.ask('q', { timeoutMs: LONG }).catch((error: unknown) => (outcome = error));
    await settle();
    const armed = vi.spyOn(globalThis, 'setTimeout');
    await vi.advanceTimersByTimeAsync(1000);
    expect(armed).not.toHaveBeenCalled(); // the overflowing version re-armed every millisecond
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(LONG - 1000 - 1);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(outcome).toBeInstanceOf(TimeoutError);
  });

  it('shutdownMs 3e9 lets a busy handler finish instead of killing it at once', async () => {
    const system = await startSystem({ store: false });
    let release!: () => void;
    const journal: string[] = [];
    const ref = system.spawn(
      defineActor<null, string>({
        async receive() {
          await new Promise<void>((resolve) => (release = resolve));
          journal.push('handled');
        },
        terminate: () => void journal.push('terminated'),
      }),
      { shutdownMs: LONG },
    );
    ref.tell('work');
    await settle();
    let stopped = false;
    const stop = system.stop(ref).then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(1000);
    await settle();
    expect(stopped).toBe(false);
    release();
    await stop;
    expect(journal).toEqual(['handled', 'terminated']);
  });

  it('snapshot.everyMs 3e9 takes no snapshot in the first second, and one at 3e9', async () => {
    const system = await startSystem({ store: ':memory:' });
    system.spawn(defineActor<number, unknown>({ init: () => 0, receive: (n) => n }), { name: 'acct', snapshot: { everyMs: LONG } });
    await settle();
    await vi.advanceTimersByTimeAsync(1000);
    await settle();
    expect(system.metrics().snapshots.written).toBe(0);
    await vi.advanceTimersByTimeAsync(LONG - 1000);
    await settle();
    expect(system.metrics().snapshots.written).toBe(1);
  });

  it('a breaker with a 2^31 ms open period stays open until it has passed', () => {
    const breaker = new Breaker({ failureThreshold: 1, resetTimeoutMs: 2 ** 31, resetJitter: 0 });
    breaker.failure();
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1000);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(2 ** 31 - 1000 - 1);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(1);
    expect(breaker.state).toBe('halfOpen');
    breaker.stop();
  });
});
