import { describe, expect, it } from 'vitest';
import { createActor, type InspectionEvent } from 'xstate';
import { Admission, Breaker, type BreakerOptions, type BreakerState, breakerMachine, breakerOptions, nominalResetMs } from '../../src/resilience/breaker.js';
import { SimulatedClock } from '../../src/util/clock.js';
import { ConfigError } from '../../src/util/errors.js';

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

describe('breakerOptions', () => {
  it('fills defaults and caches per object', () => {
    const opts = { failureThreshold: 2 };
    const resolved = breakerOptions(opts);
    expect(resolved).toMatchObject({ failureThreshold: 2, resetTimeoutMs: 500, timeoutMultiplier: 2.5, essential: false });
    expect(breakerOptions(opts)).toBe(resolved);
    expect(breakerOptions(resolved)).toBe(resolved);
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(nominalResetMs(resolved, 10)).toBe(1000); // probes at least once a second, however long the fault
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
