import { describe, expect, it } from 'vitest';
import { createActor, type InspectionEvent } from 'xstate';
import { defineActor } from '../../src/index.js';
import { Admission, Breaker, type BreakerOptions, type BreakerState, breakerMachine, breakerOptions, nominalResetMs } from '../../src/resilience/breaker.js';
import { resilient } from '../../src/resilience/resilient.js';
import { SimulatedClock } from '../../src/util/clock.js';
import { CircuitOpenError, ConfigError, OverloadedError, TimeoutError } from '../../src/util/errors.js';
import { startSystem } from '../helpers.js';

/** A 400-style error: the caller's fault, says nothing about the target's health. */
class BadRequest extends Error {
  readonly status = 400;
}
const countsUnlessBadRequest = (error: unknown) => !(error instanceof BadRequest);

/** countsUnlessBadRequest, recording every error it is asked about in `seen`. */
function recordingHandle(seen: unknown[]) {
  return (error: unknown) => {
    seen.push(error);
    return countsUnlessBadRequest(error);
  };
}

/** The machine alone, on a simulated clock, with every snapshot value recorded via inspection. */
function machine(options: BreakerOptions = {}, random = () => 0) {
  const clock = new SimulatedClock();
  const states: string[] = [];
  const actor = createActor(breakerMachine, {
    input: { options, random },
    clock,
    inspect: (event: InspectionEvent) => {
      if (event.type === '@xstate.snapshot' && event.actorRef === actor) {
        const value = (event.snapshot as { value?: unknown }).value;
        if (typeof value === 'string' && states.at(-1) !== value) states.push(value);
      }
    },
  });
  actor.start();
  const send = (type: 'SUCCESS' | 'FAILURE' | 'PROBE' | 'TRIP' | 'RESET', probe?: boolean) =>
    actor.send(type === 'SUCCESS' || type === 'FAILURE' ? { type, probe } : { type });
  const state = () => actor.getSnapshot().value;
  return { clock, actor, states, send, state, context: () => actor.getSnapshot().context };
}

/** A Breaker on a simulated clock, recording transitions and the events the machine received. */
function breaker(options: BreakerOptions = {}, random = () => 0) {
  const clock = new SimulatedClock();
  const transitions: string[] = [];
  const events: string[] = [];
  const b = new Breaker(options, {
    clock,
    random,
    path: '/target',
    onTransition: (from, to) => transitions.push(`${from}->${to}`),
    inspect: (event) => {
      if (event.type === '@xstate.event' && !event.event.type.startsWith('xstate.')) events.push(event.event.type);
    },
  });
  return { clock, b, transitions, events };
}

describe('breakerMachine', () => {
  it('opens after failureThreshold consecutive failures; a success resets the count', () => {
    const m = machine({ failureThreshold: 3 });
    m.send('FAILURE');
    m.send('FAILURE');
    m.send('SUCCESS');
    expect(m.context().failures).toBe(0);
    m.send('FAILURE');
    m.send('FAILURE');
    expect(m.state()).toBe('closed');
    m.send('FAILURE');
    expect(m.state()).toBe('open');
    expect(m.states).toEqual(['closed', 'open']);
  });

  it('goes half-open after resetTimeoutMs on the given clock, not before', () => {
    const m = machine({ failureThreshold: 1, resetTimeoutMs: 1000 });
    m.send('FAILURE');
    expect(m.context().resetDelayMs).toBe(1000);
    m.clock.advance(999);
    expect(m.state()).toBe('open');
    m.clock.advance(1);
    expect(m.state()).toBe('halfOpen');
  });

  it('ignores results while open (stale calls)', () => {
    const m = machine({ failureThreshold: 1 });
    m.send('FAILURE');
    m.send('SUCCESS');
    m.send('SUCCESS', true);
    expect(m.state()).toBe('open');
  });

  it('half-open: halfOpenMaxCalls probes, successThreshold successes close it', () => {
    const m = machine({ failureThreshold: 1, resetTimeoutMs: 100, halfOpenMaxCalls: 2, successThreshold: 2 });
    m.send('FAILURE');
    m.clock.advance(100);
    m.send('PROBE');
    m.send('PROBE');
    m.send('PROBE'); // refused: 2 in flight
    expect(m.context().probes).toBe(2);
    m.send('SUCCESS'); // not a probe: a stale call, ignored
    expect(m.context().successes).toBe(0);
    m.send('SUCCESS', true);
    expect(m.state()).toBe('halfOpen');
    expect(m.context()).toMatchObject({ successes: 1, probes: 1 });
    m.send('PROBE');
    m.send('SUCCESS', true);
    expect(m.state()).toBe('closed');
    expect(m.context()).toMatchObject({ failures: 0, successes: 0, probes: 0, reopens: 0 });
    expect(m.states).toEqual(['closed', 'open', 'halfOpen', 'closed']);
  });

  it('half-open: a probe failure re-opens, the open period grows by the factor up to the cap', () => {
    const m = machine({ failureThreshold: 1, resetTimeoutMs: 100, maxResetTimeoutMs: 500, resetBackoff: 2 });
    m.send('FAILURE');
    const periods: number[] = [];
    for (let i = 0; i < 5; i++) {
      periods.push(m.context().resetDelayMs);
      m.clock.advance(m.context().resetDelayMs - 1);
      expect(m.state()).toBe('open');
      m.clock.advance(1);
      expect(m.state()).toBe('halfOpen');
      m.send('PROBE');
      m.send('FAILURE', true);
      expect(m.state()).toBe('open');
    }
    expect(periods).toEqual([100, 200, 400, 500, 500]);
    // closing forgets the growth: the next open period starts over
    m.clock.advance(500);
    m.send('PROBE');
    m.send('SUCCESS', true);
    expect(m.state()).toBe('closed');
    m.send('FAILURE');
    expect(m.context().resetDelayMs).toBe(100);
  });

  it('jitter takes up to resetJitter of the period off, from the given random source', () => {
    const m = machine({ failureThreshold: 1, resetTimeoutMs: 1000, resetJitter: 0.2 }, () => 0.5);
    m.send('FAILURE');
    expect(m.context().resetDelayMs).toBe(900);
    m.clock.advance(899);
    expect(m.state()).toBe('open');
    m.clock.advance(1);
    expect(m.state()).toBe('halfOpen');
  });

  it('closed ↔ hedging on the p95 latency, with hysteresis; failures still open it', () => {
    const m = machine({ hedgeAfterMs: 100, hedgeExitRatio: 0.5, minSamples: 10, failureThreshold: 2 });
    m.actor.send({ type: 'LATENCY', p95: 150, samples: 5 }); // too few samples
    expect(m.state()).toBe('closed');
    m.actor.send({ type: 'LATENCY', p95: 150, samples: 50 });
    expect(m.state()).toBe('hedging');
    m.actor.send({ type: 'LATENCY', p95: 80, samples: 50 }); // below the threshold, above the exit
    expect(m.state()).toBe('hedging');
    m.actor.send({ type: 'LATENCY', p95: 50, samples: 50 });
    expect(m.state()).toBe('closed');
    m.actor.send({ type: 'LATENCY', p95: 150, samples: 50 });
    m.send('FAILURE');
    m.send('FAILURE');
    expect(m.states).toEqual(['closed', 'hedging', 'closed', 'hedging', 'open']);
  });

  it('never hedges without hedgeAfterMs', () => {
    const m = machine();
    m.actor.send({ type: 'LATENCY', p95: 1e9, samples: 1e6 });
    expect(m.state()).toBe('closed');
  });

  it('essential: one probe in flight per reset period whatever halfOpenMaxCalls says', () => {
    const m = machine({ failureThreshold: 1, resetTimeoutMs: 100, halfOpenMaxCalls: 5, essential: true });
    m.send('FAILURE');
    m.clock.advance(100);
    m.send('PROBE');
    m.send('PROBE');
    expect(m.context().probes).toBe(1);
  });

  it('RATE opens closed or hedging only when the reported window reaches the rate over minimumCalls', () => {
    const m = machine({ failureRateThreshold: 0.5, minimumCalls: 4 });
    m.actor.send({ type: 'RATE', failures: 3, calls: 3 }); // too few calls
    m.actor.send({ type: 'RATE', failures: 1, calls: 4 }); // 25 %
    expect(m.state()).toBe('closed');
    m.actor.send({ type: 'RATE', failures: 2, calls: 4 });
    expect(m.state()).toBe('open');
    const countOnly = machine(); // no failureRateThreshold: RATE means nothing
    countOnly.actor.send({ type: 'RATE', failures: 10, calls: 10 });
    expect(countOnly.state()).toBe('closed');
  });

  it('TRIP and RESET override', () => {
    const m = machine({ resetTimeoutMs: 100 });
    m.send('TRIP');
    expect(m.state()).toBe('open');
    m.send('RESET');
    expect(m.state()).toBe('closed');
    expect(m.clock.pendingTimers).toBe(0); // leaving open cancelled the reset
  });
});

describe('Breaker', () => {
  it('closed hot path: acquire/success send nothing to the machine', () => {
    const { b, events } = breaker();
    for (let i = 0; i < 1000; i++) {
      expect(b.acquire()).toBe(Admission.pass);
      b.success(1);
    }
    expect(events).toEqual([]);
    expect(b.latency.count).toBeGreaterThanOrEqual(256); // the window: the last 256 … 512 samples
    expect(b.latency.count).toBeLessThanOrEqual(512);
    b.stop();
  });

  it('a failure is an event; the next success resets the count with one event', () => {
    const { b, events } = breaker({ failureThreshold: 3 });
    b.failure();
    b.failure();
    b.success(1);
    b.success(1);
    expect(events).toEqual(['FAILURE', 'FAILURE', 'SUCCESS']);
    expect(b.context.failures).toBe(0);
    b.stop();
  });

  it('walks closed → open → halfOpen → open → halfOpen → closed, publishing each transition', () => {
    const { b, clock, transitions } = breaker({ failureThreshold: 2, resetTimeoutMs: 100 });
    b.failure();
    b.failure();
    expect(b.state).toBe('open');
    expect(b.acquire()).toBe(Admission.reject);
    clock.advance(100);
    expect(b.state).toBe('halfOpen');
    const probe = b.acquire();
    expect(probe).toBe(Admission.probe);
    expect(b.acquire()).toBe(Admission.reject); // one probe slot
    b.failure(probe);
    expect(b.state).toBe('open');
    clock.advance(199);
    expect(b.state).toBe('open');
    clock.advance(1);
    const probe2 = b.acquire();
    b.success(5, probe2);
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->halfOpen', 'halfOpen->open', 'open->halfOpen', 'halfOpen->closed']);
    b.stop();
  });

  it('ignores stale verdicts: a call admitted while closed that ends while half-open', () => {
    const { b, clock } = breaker({ failureThreshold: 1, resetTimeoutMs: 10 });
    const early = b.acquire();
    b.failure();
    clock.advance(10);
    expect(b.state).toBe('halfOpen');
    b.failure(early);
    expect(b.state).toBe('halfOpen');
    b.success(1, early);
    expect(b.state).toBe('halfOpen');
    b.stop();
  });

  it('release frees a probe slot', () => {
    const { b, clock } = breaker({ failureThreshold: 1, resetTimeoutMs: 10 });
    b.failure();
    clock.advance(10);
    const probe = b.acquire();
    expect(b.acquire()).toBe(Admission.reject);
    b.release(probe);
    expect(b.acquire()).toBe(Admission.probe);
    b.stop();
  });

  it('lets a new probe through a reset period after a probe that never ends, and idles without a timer', () => {
    const { b, clock, transitions } = breaker({ failureThreshold: 1, resetTimeoutMs: 100 });
    b.failure();
    clock.advance(100);
    expect(b.acquire()).toBe(Admission.probe); // its caller never reports back
    clock.advance(99);
    expect(b.acquire()).toBe(Admission.reject); // the slot is still held
    clock.advance(1);
    const probe = b.acquire();
    expect(probe).toBe(Admission.probe);
    b.success(3, probe);
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->halfOpen', 'halfOpen->closed']);
    b.trip();
    clock.advance(200);
    expect(b.state).toBe('halfOpen');
    expect(clock.pendingTimers).toBe(0); // no probe in flight: nothing to reclaim, no timer kept
    b.stop();
  });

  it('essential: a hung probe does not hold the breaker, the next reset period probes again', () => {
    const { b, clock } = breaker({ failureThreshold: 1, resetTimeoutMs: 50, essential: true });
    b.failure();
    clock.advance(50);
    expect(b.acquire()).toBe(Admission.probe); // hangs
    clock.advance(49);
    expect(b.acquire()).toBe(Admission.fallback);
    clock.advance(1);
    expect(b.acquire()).toBe(Admission.probe);
    expect(b.acquire()).toBe(Admission.fallback); // still one probe per period
    b.stop();
  });

  it('essential: fallback instead of refusal while open and past the probe', () => {
    const { b, clock } = breaker({ failureThreshold: 1, resetTimeoutMs: 50, essential: true });
    b.failure();
    expect(b.acquire()).toBe(Admission.fallback);
    clock.advance(50);
    expect(b.acquire()).toBe(Admission.probe);
    expect(b.acquire()).toBe(Admission.fallback);
    b.stop();
  });

  it('goes hedging when the observed p95 passes hedgeAfterMs while calls succeed, and back', () => {
    const { b, transitions, events } = breaker({ hedgeAfterMs: 50, minSamples: 20, latencyWindow: 100 });
    for (let i = 0; i < 100; i++) b.success(10);
    expect(b.state).toBe('closed');
    for (let i = 0; i < 20; i++) b.success(80);
    expect(b.state).toBe('hedging');
    expect(b.acquire()).toBe(Admission.pass);
    for (let i = 0; i < 200; i++) b.success(10);
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['closed->hedging', 'hedging->closed']);
    expect(events).toEqual(['LATENCY', 'LATENCY']); // one event per crossing, none per call
    b.stop();
  });

  it('autoTimeoutMs: multiplier × p95, clamped, initial until minSamples', () => {
    const { b } = breaker({ timeoutMultiplier: 3, minSamples: 5 });
    expect(b.autoTimeoutMs(10, 1000, 777)).toBe(777);
    for (let i = 0; i < 5; i++) b.success(20);
    expect(b.autoTimeoutMs(10, 1000)).toBe(60);
    expect(b.autoTimeoutMs(100, 1000)).toBe(100);
    expect(b.autoTimeoutMs(1, 40)).toBe(40);
    b.stop();
  });

  it('stop cancels a pending reset', () => {
    const { b, clock } = breaker({ failureThreshold: 1 });
    b.failure();
    expect(clock.pendingTimers).toBe(1);
    b.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('a throwing listener does not break the breaker', () => {
    const clock = new SimulatedClock();
    const b = new Breaker(
      { failureThreshold: 1 },
      {
        clock,
        onTransition: () => {
          throw new Error('listener');
        },
      },
    );
    b.failure();
    expect(b.state).toBe('open');
    b.stop();
  });

  it('trip and reset', () => {
    const { b } = breaker();
    b.trip();
    expect<BreakerState>(b.state).toBe('open');
    b.reset();
    expect<BreakerState>(b.state).toBe('closed');
    b.stop();
  });
});

describe('Breaker: handle(error) says which failures count', () => {
  it('does not count errors that handle() rejects', () => {
    const { b, events } = breaker({ failureThreshold: 1, handle: countsUnlessBadRequest });
    for (let i = 0; i < 5; i++) b.failed(new BadRequest('no such order'));
    expect(b.state).toBe('closed');
    expect(events).toEqual([]); // a rejected error is not even an event
    b.failed(new Error('503'));
    expect(b.state).toBe('open');
    b.stop();
  });

  it('a probe failing with a rejected error frees its slot and decides nothing', () => {
    const { b, clock } = breaker({ failureThreshold: 1, resetTimeoutMs: 10, handle: countsUnlessBadRequest });
    b.failed(new Error('503'));
    clock.advance(10);
    const probe = b.acquire();
    b.failed(new BadRequest(), probe);
    expect(b.state).toBe('halfOpen');
    expect(b.acquire()).toBe(Admission.probe);
    b.stop();
  });

  it('a handle that throws counts the failure, and never reaches the caller', () => {
    const { b } = breaker({
      failureThreshold: 1,
      handle: () => {
        throw new Error('broken filter');
      },
    });
    expect(() => b.failed(new BadRequest())).not.toThrow();
    expect(b.state).toBe('open');
    b.stop();
  });

  it("resilient(): handle sees fn's error, and a timeout as a TimeoutError", async () => {
    const clock = new SimulatedClock();
    const seen: unknown[] = [];
    let next: 'bad' | 'hang' = 'bad';
    const call = resilient(() => (next === 'bad' ? Promise.reject(new BadRequest()) : new Promise(() => {})), {
      clock,
      timeoutMs: 100,
      breaker: { failureThreshold: 1, handle: recordingHandle(seen) },
    });
    for (let i = 0; i < 3; i++) await expect(call()).rejects.toBeInstanceOf(BadRequest);
    expect(call.breaker!.state).toBe('closed');
    next = 'hang';
    const timedOut = call().catch((e: unknown) => e);
    clock.advance(100);
    expect(await timedOut).toBeInstanceOf(TimeoutError);
    expect(seen.map((e) => (e as Error).constructor.name)).toEqual(['BadRequest', 'BadRequest', 'BadRequest', 'TimeoutError']);
    expect(call.breaker!.state).toBe('open');
    await expect(call()).rejects.toBeInstanceOf(CircuitOpenError);
    call.stop();
  });

  it('an ask whose handler throws a 400-style error does not open the actor breaker when handle says so', async () => {
    const system = await startSystem();
    const seen: unknown[] = [];
    const Orders = defineActor<null, { status: number }>({
      receive(_state, msg, ctx) {
        if (msg.status === 400) throw new BadRequest('bad order');
        if (msg.status === 500) throw new Error('database down');
        ctx.reply('placed');
      },
    });
    const orders = system.spawn(Orders, { name: 'orders', breaker: { failureThreshold: 1, handle: recordingHandle(seen) } });
    const state = () => system.tree().find((n) => n.name === 'orders')!.breaker;
    for (let i = 0; i < 2; i++) await expect(orders.ask({ status: 400 })).rejects.toMatchObject({ crashed: true });
    expect(seen).toHaveLength(2);
    expect(seen.every((e) => e instanceof BadRequest)).toBe(true); // what the handler threw, not the wrapper
    expect(state()).toBe('closed');
    expect(await orders.ask({ status: 200 })).toBe('placed');
    await expect(orders.ask({ status: 500 })).rejects.toMatchObject({ crashed: true });
    expect(state()).toBe('open');
  });
});

describe('Breaker: failureRateThreshold over a sliding window', () => {
  it('opens on a failure rate over the window once minimumCalls ended', () => {
    const { b, events, transitions } = breaker({ failureRateThreshold: 0.5, minimumCalls: 10, windowMs: 1000 });
    for (let i = 0; i < 9; i++) b.failure(); // 9 in a row: no count rule when only the rate is set
    expect(b.state).toBe('closed');
    b.success(1); // the 10th call: 9 / 10 failed
    expect(b.state).toBe('open');
    expect(transitions).toEqual(['closed->open']);
    expect(events).toEqual(['RATE']); // the machine is told once, when the rate is reached
    b.stop();
  });

  it('stays closed below the rate', () => {
    const { b } = breaker({ failureRateThreshold: 0.5, minimumCalls: 10 });
    for (let i = 0; i < 100; i++) i % 3 === 0 ? b.failure() : b.success(1); // a third fail
    expect(b.state).toBe('closed');
    expect(b.windowCounts()).toEqual({ calls: 100, failures: 34 });
    b.stop();
  });

  it('forgets failures older than windowMs', () => {
    const { b, clock } = breaker({ failureRateThreshold: 0.5, minimumCalls: 4, windowMs: 1000 });
    for (let i = 0; i < 3; i++) b.failure();
    clock.advance(999);
    expect(b.windowCounts()).toEqual({ calls: 3, failures: 3 });
    clock.advance(1);
    expect(b.windowCounts()).toEqual({ calls: 0, failures: 0 });
    b.failure();
    for (let i = 0; i < 3; i++) b.success(1);
    expect(b.state).toBe('closed'); // 1 of 4, not 4 of 7
    b.stop();
  });

  it('slides bucket by bucket (windowMs / 10), with O(1) work per call', () => {
    const { b, clock } = breaker({ failureRateThreshold: 1, minimumCalls: 1000, windowMs: 1000 });
    const counts: number[] = [];
    for (let t = 0; t < 2000; t += 100) {
      b.success(1);
      counts.push(b.windowCounts().calls);
      clock.advance(100);
    }
    expect(counts).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
    b.stop();
  });

  it('with failureThreshold as well, whichever rule trips first', () => {
    const { b } = breaker({ failureRateThreshold: 0.5, minimumCalls: 100, failureThreshold: 3 });
    b.failure();
    b.failure();
    b.failure();
    expect(b.state).toBe('open');
    b.stop();
  });

  it('counts failures while hedging, as while closed', () => {
    const { b } = breaker({ failureRateThreshold: 0.5, minimumCalls: 4, hedgeAfterMs: 50, minSamples: 2 });
    b.success(100);
    b.success(100);
    expect(b.state).toBe('hedging');
    b.failure();
    b.failure();
    expect(b.state).toBe('open');
    b.stop();
  });

  it('starts from an empty window when it closes again', () => {
    const { b, clock } = breaker({ failureRateThreshold: 0.5, minimumCalls: 4, resetTimeoutMs: 100 });
    for (let i = 0; i < 4; i++) b.failure();
    expect(b.state).toBe('open');
    clock.advance(100);
    b.success(1, b.acquire());
    expect(b.state).toBe('closed');
    expect(b.windowCounts()).toEqual({ calls: 0, failures: 0 });
    b.failure();
    b.success(1);
    b.failure();
    expect(b.state).toBe('closed'); // 2 of 3: fewer than minimumCalls since it closed
    b.reset(); // an operator reset forgets them too
    expect(b.windowCounts()).toEqual({ calls: 0, failures: 0 });
    b.stop();
  });

  it('ignores rejected errors: they are not calls of the window', () => {
    const { b } = breaker({ failureRateThreshold: 0.5, minimumCalls: 4, handle: countsUnlessBadRequest });
    for (let i = 0; i < 10; i++) b.failed(new BadRequest());
    b.success(1);
    expect(b.windowCounts()).toEqual({ calls: 1, failures: 0 });
    expect(b.state).toBe('closed');
    b.stop();
  });

  it('closed hot path: successes send nothing to the machine', () => {
    const { b, events } = breaker({ failureRateThreshold: 0.5 });
    for (let i = 0; i < 1000; i++) {
      expect(b.acquire()).toBe(Admission.pass);
      b.success(1);
    }
    expect(events).toEqual([]);
    b.stop();
  });
});

describe('breakerOptions', () => {
  it('fills defaults and caches per object', () => {
    const opts = { failureThreshold: 2 };
    const resolved = breakerOptions(opts);
    expect(resolved).toMatchObject({ failureThreshold: 2, resetTimeoutMs: 250, maxResetTimeoutMs: 500, timeoutMultiplier: 2.5, essential: false });
    expect(breakerOptions(opts)).toBe(resolved);
    expect(breakerOptions(resolved)).toBe(resolved);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(nominalResetMs(resolved, 10)).toBe(500); // probes at least twice a second, however long the fault
    expect(resolved).toMatchObject({ handle: undefined, failureRateThreshold: undefined, minimumCalls: 10, windowMs: 10_000 });
  });

  it('a failure rate alone turns the consecutive count off; with failureThreshold both apply', () => {
    expect(breakerOptions({ failureRateThreshold: 0.5 })).toMatchObject({ failureRateThreshold: 0.5, failureThreshold: Infinity, minimumCalls: 10, windowMs: 10_000 });
    expect(breakerOptions({ failureRateThreshold: 1, failureThreshold: 3, minimumCalls: 20, windowMs: 60_000 })).toMatchObject({
      failureRateThreshold: 1,
      failureThreshold: 3,
      minimumCalls: 20,
      windowMs: 60_000,
    });
    const handle = () => true;
    expect(breakerOptions({ handle }).handle).toBe(handle);
  });

  it.each([
    [{ failureThreshold: 0 }, 'breaker.failureThreshold'],
    [{ failureThreshold: -1 }, 'breaker.failureThreshold'],
    [{ successThreshold: 0 }, 'breaker.successThreshold'],
    [{ halfOpenMaxCalls: 1.5 }, 'breaker.halfOpenMaxCalls'],
    [{ resetTimeoutMs: 0 }, 'breaker.resetTimeoutMs'],
    [{ resetTimeoutMs: 100, maxResetTimeoutMs: 50 }, 'breaker.maxResetTimeoutMs'],
    [{ resetBackoff: 0.5 }, 'breaker.resetBackoff'],
    [{ resetJitter: 1 }, 'breaker.resetJitter'],
    [{ timeoutMultiplier: 0 }, 'breaker.timeoutMultiplier'],
    [{ hedgeAfterMs: -5 }, 'breaker.hedgeAfterMs'],
    [{ hedgeExitRatio: 0 }, 'breaker.hedgeExitRatio'],
    [{ essential: 'yes' }, 'breaker.essential'],
    [{ failureTreshold: 3 }, 'breaker.failureTreshold'],
    [{ handle: true }, 'breaker.handle'],
    [{ failureRateThreshold: 0 }, 'breaker.failureRateThreshold'],
    [{ failureRateThreshold: 1.5 }, 'breaker.failureRateThreshold'],
    [{ failureRateThreshold: Number.NaN }, 'breaker.failureRateThreshold'],
    [{ failureRateThreshold: '50%' }, 'breaker.failureRateThreshold'],
    [{ failureRateThreshold: 0.5, minimumCalls: 0 }, 'breaker.minimumCalls'],
    [{ failureRateThreshold: 0.5, minimumCalls: 2.5 }, 'breaker.minimumCalls'],
    [{ failureRateThreshold: 0.5, windowMs: 0 }, 'breaker.windowMs'],
    [{ failureRateThreshold: 0.5, windowMs: Infinity }, 'breaker.windowMs'],
    [{ minimumCalls: 20 }, 'breaker.minimumCalls'], // means nothing without failureRateThreshold
    [{ windowMs: 5000 }, 'breaker.windowMs'],
  ])('rejects %o naming %s', (options, option) => {
    let error: unknown;
    try {
      breakerOptions(options as BreakerOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
  });

  it('names the option under the given prefix', () => {
    expect(() => breakerOptions({ failureThreshold: 0 }, 'spawn.breaker')).toThrow(/spawn\.breaker\.failureThreshold/);
  });
});

describe('overload is not failure', () => {
  it('never counts an OverloadedError against the breaker, whatever handle says', () => {
    const breaker = new Breaker({ failureThreshold: 1 }, { clock: new SimulatedClock() });
    for (let i = 0; i < 10; i++) breaker.failed(new OverloadedError('/gw', 'busy'), breaker.acquire());
    expect(breaker.state).toBe('closed');
    breaker.failed(new Error('down'), breaker.acquire());
    expect(breaker.state).toBe('open');
  });
});
