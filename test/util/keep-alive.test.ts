/**
 * Which runtime timers hold the host's event loop open (Node's ref/unref): only those that
 * somebody awaits. The shared deadline queue holds it while an entry is pending, never after;
 * background timers (snapshot intervals, breaker resets) never do. test/package.test.ts shows
 * the outcome on a real host process: one that forgets shutdown() still exits.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Breaker } from '../../src/resilience/breaker.js';
import { backgroundClock, type Clock, MAX_TIMER_MS, realClock, refTimer, SimulatedClock, type TimerHandle, unrefTimer } from '../../src/util/clock.js';
import { DeadlineEntry, DeadlineQueue } from '../../src/util/deadline-queue.js';

afterEach(() => {
  vi.useRealTimers();
});

/** The real clock, recording the Node timers it arms. */
function recordingClock(): { clock: Clock; armed: NodeJS.Timeout[] } {
  const armed: NodeJS.Timeout[] = [];
  const clock: Clock = {
    now: () => realClock.now(),
    setTimeout: (fn, ms) => {
      const handle = realClock.setTimeout(fn, ms) as NodeJS.Timeout;
      armed.push(handle);
      return handle;
    },
    clearTimeout: (handle) => realClock.clearTimeout(handle),
  };
  return { clock, armed };
}

class Entry extends DeadlineEntry {
  expired = false;
  expire(): void {
    this.expired = true;
  }
}

describe('unrefTimer / refTimer', () => {
  it("switches a real clock timer's hold on the event loop off and on", () => {
    const handle = realClock.setTimeout(() => {}, 60_000) as NodeJS.Timeout;
    try {
      expect(handle.hasRef()).toBe(true);
      expect(unrefTimer(handle)).toBe(handle);
      expect(handle.hasRef()).toBe(false);
      refTimer(handle);
      expect(handle.hasRef()).toBe(true);
    } finally {
      realClock.clearTimeout(handle);
    }
  });

  it('keeps a timer longer than 2^31−1 ms unref’d across the hops of its chain', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let fired = false;
    const handle = unrefTimer(realClock.setTimeout(() => (fired = true), 3e9)) as { timer: NodeJS.Timeout };
    expect(handle.timer.hasRef()).toBe(false);
    const first = handle.timer;
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(handle.timer).not.toBe(first); // the next hop
    expect(handle.timer.hasRef()).toBe(false);
    vi.advanceTimersByTime(3e9 - MAX_TIMER_MS);
    expect(fired).toBe(true);
  });

  it('leaves handles without ref/unref alone (a SimulatedClock’s, a custom clock’s)', () => {
    const clock = new SimulatedClock();
    let fired = false;
    const handle = unrefTimer(clock.setTimeout(() => (fired = true), 10));
    refTimer(handle);
    refTimer(undefined as TimerHandle);
    clock.advance(10);
    expect(fired).toBe(true);
  });
});

describe('backgroundClock', () => {
  it('arms the same timers on the same clock, unref’d', () => {
    const { clock, armed } = recordingClock();
    const background = backgroundClock(clock);
    expect(backgroundClock(clock)).toBe(background); // one per clock
    const handle = background.setTimeout(() => {}, 60_000);
    expect(armed).toEqual([handle]);
    expect(armed[0]!.hasRef()).toBe(false);
    background.clearTimeout(handle);
  });

  it('still runs on a SimulatedClock: its timers fire as time is advanced', () => {
    const clock = new SimulatedClock();
    const fired: number[] = [];
    backgroundClock(clock).setTimeout(() => fired.push(clock.now()), 500);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(1_000);
    expect(fired).toEqual([500]);
  });

  it("runs a breaker's reset on the real clock without holding the event loop open", () => {
    const { clock, armed } = recordingClock();
    const breaker = new Breaker({ failureThreshold: 1, resetTimeoutMs: 60_000 }, { path: '/x', clock });
    breaker.failure(breaker.acquire());
    expect(breaker.state).toBe('open');
    expect(armed.length).toBeGreaterThan(0);
    expect(armed.every((t) => !t.hasRef())).toBe(true);
    for (const t of armed) clearTimeout(t);
  });
});

describe('DeadlineQueue on the real clock', () => {
  it('holds the event loop while an entry is pending, and lets go once none is', () => {
    const { clock, armed } = recordingClock();
    const queue = new DeadlineQueue<Entry>(clock);
    const first = new Entry();
    queue.add(first, 60_000);
    expect(armed).toHaveLength(1);
    expect(armed[0]!.hasRef()).toBe(true);
    queue.remove(first); // settled: the timer stays armed (no re-arming per entry), unref'd
    expect(armed[0]!.hasRef()).toBe(false);
    const second = new Entry();
    queue.add(second, 60_000); // pending again: the same timer holds the loop again
    expect(armed).toHaveLength(1);
    expect(armed[0]!.hasRef()).toBe(true);
    queue.failAll((entry) => queue.remove(entry));
  });

  it('holds it for an entry that arrives with an earlier deadline (a new timer)', () => {
    const { clock, armed } = recordingClock();
    const queue = new DeadlineQueue<Entry>(clock);
    const late = new Entry();
    queue.add(late, 60_000);
    queue.remove(late);
    queue.add(new Entry(), 1_000); // a one-off value, due earlier: re-armed
    expect(armed).toHaveLength(2);
    expect(armed[1]!.hasRef()).toBe(true);
    queue.failAll((entry) => queue.remove(entry));
  });
});
