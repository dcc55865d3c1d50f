import { describe, expect, it } from 'vitest';
import { Crasher, type CrasherMsg, InitCrasher } from '../../actors/chaos/chaos.js';
import { type ActorRef, ConfigError, defineActor, resilient, type Signal, SimulatedClock, SystemStoppedError, TimeoutError } from '../../src/index.js';
import { nextTurn, startSystem, until } from '../helpers.js';

async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn();
}

/** Records what it handles, and the mode signals it gets. */
function recorder(journal: unknown[]) {
  return defineActor<null, unknown>({
    receive: (_s, m, ctx) => {
      journal.push(m);
      ctx.reply(m);
    },
    onSignal: (_s, signal: Signal, ctx) => void journal.push(signal.type === 'mode' ? `mode ${signal.from}→${signal.to} (ctx.mode ${ctx.mode})` : signal.type),
  });
}

describe('system modes', () => {
  it('setMode publishes system.mode, tells every onSignal, and ctx.mode reads it', async () => {
    const system = await startSystem();
    const journal: unknown[] = [];
    const events: unknown[] = [];
    system.spawn(recorder(journal), { name: 'a' });
    system.subscribe(system.spawn(defineActor({ receive() {}, onEvent: (_s, e) => void events.push(e.data) })), 'system.mode');
    system.setMode('preSafe', 'maintenance');
    expect(system.mode).toBe('preSafe');
    await until(() => journal.length === 1 && events.length === 1);
    expect(journal).toEqual(['mode normal→preSafe (ctx.mode preSafe)']);
    expect(events).toEqual([{ from: 'normal', to: 'preSafe', reason: 'maintenance' }]);
  });

  it('in safe, defers priorities 3–4 of non-essential actors and handles them, in order, once the mode allows', async () => {
    const system = await startSystem();
    const plain: unknown[] = [];
    const essential: unknown[] = [];
    const a = system.spawn(recorder(plain), { name: 'plain' });
    const e = system.spawn(recorder(essential), { name: 'essential', essential: true });
    system.setMode('safe', 'test');
    await settle();
    plain.length = 0;
    essential.length = 0;
    for (const ref of [a, e]) {
      ref.tell('low 1', { priority: 4 });
      ref.tell('high', { priority: 0 });
      ref.tell('low 2', { priority: 3 });
    }
    await settle();
    expect(plain).toEqual(['high']); // the low priorities wait
    expect(essential).toEqual(['high', 'low 2', 'low 1']);
    system.setMode('normal', 'test');
    await until(() => plain.length >= 4);
    expect(plain).toEqual(['high', 'mode safe→normal (ctx.mode normal)', 'low 2', 'low 1']);
  });

  it('in emergency, parks non-essential actors with their mailboxes: asks still end by their deadline, the rest resumes in order', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const journal: unknown[] = [];
    const a = system.spawn(recorder(journal), { name: 'a' });
    system.setMode('emergency', 'test');
    await settle();
    journal.length = 0;
    a.tell('one');
    const late = a.ask('asked', { timeoutMs: 100 }).catch((e: unknown) => e);
    a.tell('two');
    await settle();
    expect(journal).toEqual([]); // parked
    clock.advance(100);
    expect(await late).toBeInstanceOf(TimeoutError);
    system.setMode('auto', 'test');
    system.setMode('normal', 'test');
    await until(() => journal.includes('two'));
    // the expired ask is not started (dead letter 'expired'); the tells are handled in order
    expect(journal.filter((m) => typeof m === 'string' && !m.startsWith('mode'))).toEqual(['one', 'two']);
    expect(system.deadLetters.counts().expired).toBe(1);
  });

  it('raises the mode to safe when an escalation reaches the root', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    system.spawn(InitCrasher, { name: 'doomed' });
    await until(() => system.escalations().length === 1);
    expect(['safe', 'emergency']).toContain(system.mode);
  });

  it('rises under a restart storm and steps back to normal once the signals stay healthy', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: { preSafeAt: 2, safeAt: 4, emergencyAt: 100, recoverAfterMs: 500 } });
    const refs = Array.from({ length: 5 }, (_, i) => system.spawn(Crasher, { name: `c${i}` }) as ActorRef<CrasherMsg>);
    for (const ref of refs) ref.tell({ type: 'crash' });
    await settle();
    expect(system.mode).toBe('safe');
    for (let t = 0; t < 3000; t += 100) {
      clock.advance(100);
      await settle(1);
    }
    expect(system.mode).toBe('normal');
    expect(clock.pendingTimers).toBe(0); // a healthy, normal system keeps no sampler
  });

  it('refuses a bad mode name and bad thresholds with a ConfigError', async () => {
    const system = await startSystem();
    expect(() => system.setMode('panic' as never)).toThrow(ConfigError);
    await expect(startSystem({ modes: { safeAt: 1, preSafeAt: 5 } })).rejects.toThrow(ConfigError);
    await expect(startSystem({ modes: { panicAt: 3 } as never })).rejects.toThrow(/modes\.panicAt/);
  });
});

describe('modes: false', () => {
  it('leaves the mode to setMode alone: a storm or an escalation does not raise it', async () => {
    const system = await startSystem({ clock: new SimulatedClock(), modes: false });
    const refs = Array.from({ length: 30 }, (_, i) => system.spawn(Crasher, { name: `c${i}` }) as ActorRef<CrasherMsg>);
    for (const ref of refs) ref.tell({ type: 'crash' });
    system.spawn(InitCrasher, { name: 'doomed' });
    await until(() => system.escalations().length === 1);
    expect(system.mode).toBe('normal');
    system.setMode('safe', 'by hand');
    expect(system.mode).toBe('safe');
  });
});

describe('modes under faults (review)', () => {
  it('does not count timeouts of actors it parks against their breakers, so an emergency ends under traffic', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const services = Array.from({ length: 5 }, (_, i) => system.spawn(recorder([]), { name: `svc${i}` }));
    system.setMode('emergency', 'operator');
    system.setMode('auto', 'operator hands back');
    for (let t = 0; t < 1000; t++) {
      if (t % 10 === 0) for (const s of services) void s.ask('x', { timeoutMs: 300 }).catch(() => {});
      clock.advance(10);
      await nextTurn();
    }
    expect(system.mode).toBe('normal');
    expect(system.tree().every((n) => n.breaker === undefined || n.breaker === 'closed')).toBe(true);
  });

  it('forgets the open breaker of an actor that stopped, and the parked actors that stopped', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: { preSafeAt: 2, safeAt: 50, emergencyAt: 100, recoverAfterMs: 100 } });
    const Silent = defineActor<null, unknown>({ receive: (_s, _m, ctx) => void ctx.deferReply() });
    const a = system.spawn(Silent, { name: 'a', breaker: { failureThreshold: 1, resetTimeoutMs: 10_000, maxResetTimeoutMs: 10_000 } });
    const asked = a.ask('x', { timeoutMs: 10 }).catch((e: unknown) => e);
    await settle();
    clock.advance(10);
    await asked;
    await settle();
    expect(system.mode).toBe('preSafe');
    await system.stop(a);
    for (let i = 0; i < 20; i++) {
      clock.advance(250);
      await nextTurn();
    }
    expect(system.mode).toBe('normal');
    expect(clock.pendingTimers).toBe(0);
    system.setMode('emergency', 'test');
    for (let i = 0; i < 5; i++) {
      const b = system.spawn(defineActor({ receive() {} }));
      b.tell('x');
      await settle(2);
      await system.stop(b);
    }
    expect((system as unknown as { parkedCells: Set<unknown> }).parkedCells.size).toBe(0);
  });

  it('refuses setMode after shutdown', async () => {
    const system = await startSystem();
    await system.shutdown();
    expect(() => system.setMode('safe')).toThrow(SystemStoppedError);
  });
});

describe('the latency signal', () => {
  it('enters the latency mode while a breaker reports its target slow (hedging), and leaves it when fast again', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: { recoverAfterMs: 500 } });
    let latencyMs = 100;
    const Slow = defineActor<null, unknown>({
      receive(_s, msg, ctx) {
        const reply = ctx.deferReply();
        clock.setTimeout(() => reply(msg), latencyMs);
      },
    });
    const slow = system.spawn(Slow, { breaker: { hedgeAfterMs: 50, minSamples: 5 } });
    const burst = async () => {
      const asks = Array.from({ length: 40 }, (_, i) => slow.ask(i, { timeoutMs: 1000 }));
      for (let t = 0; t < 15; t++) {
        clock.advance(10);
        await settle(2);
      }
      await Promise.all(asks);
    };
    await burst();
    expect(system.mode).toBe('latency');
    latencyMs = 5;
    for (let round = 0; round < 30 && system.mode !== 'normal'; round++) await burst();
    expect(system.mode).toBe('normal');
  });
});

describe('the latency mode', () => {
  it("widens the 'auto' timeouts of resilient() calls on the system's clock, and narrows them back after", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const call = resilient(async () => 'ok', { timeoutMs: 'auto', autoTimeout: { initialMs: 100, maxMs: 10_000 }, clock });
    expect(call.timeoutMs()).toBe(100);
    system.setMode('latency', 'slow exchange');
    expect(call.timeoutMs()).toBe(200);
    system.setMode('auto');
    system.setMode('normal', 'fast again');
    expect(call.timeoutMs()).toBe(100);
  });
});

describe('saturation', () => {
  it('counts messages a full mailbox refused as a health signal: a flood raises the mode to safe', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const sink = system.spawn(defineActor<null, number>({ receive() {} }), { mailbox: { capacity: 10 } });
    let refused = 0;
    for (let i = 0; i < 500; i++) if (!sink.tell(i)) refused++;
    expect(refused).toBe(490);
    expect(system.mode).toBe('safe');
  });
});
