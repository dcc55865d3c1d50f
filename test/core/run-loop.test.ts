/**
 * The run loop's judgement of a handler's end: a handler that fails only because its ask's
 * signal aborted did as it was told (stopped) and is no crash.
 */
import { describe, expect, it } from 'vitest';
import { type Clock, defineActor, pool, SimulatedClock } from '../../src/index.js';
import { nextTurn, startSystem } from '../helpers.js';

async function advance(clock: SimulatedClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await nextTurn();
  }
}

/** Like an exchange client: answers after `ms`, or rejects with the abort reason once its signal aborts. */
function abortableCall(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => resolve('filled'), ms);
    signal?.addEventListener('abort', () => {
      clock.clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

function gateway(clock: Clock, ms: (name: string) => number) {
  return defineActor<null, string>({
    async receive(_s, _m, ctx) {
      ctx.reply(await abortableCall(clock, ms(ctx.name), ctx.signal));
    },
  });
}

describe('a handler ended by its own signal', () => {
  it('is no crash when its caller gave up: no restart, no dead letter, the next ask is served', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    const gw = system.spawn(
      gateway(clock, () => 100),
      { name: 'gw' },
    );
    const caller = new AbortController();
    const left = gw.ask('order', { signal: caller.signal }).catch((e: unknown) => e);
    await nextTurn();
    caller.abort(new Error('caller left'));
    expect(await left).toEqual(new Error('caller left'));
    await nextTurn();
    expect(system.tree()[0]).toMatchObject({ status: 'running', restarts: 0 });
    expect(system.deadLetters.counts()).toEqual({});
    const next = gw.ask('again', { timeoutMs: 1000 });
    await advance(clock, 110);
    expect(await next).toBe('filled');
  });

  it('is no crash when its deadline passed', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    const gw = system.spawn(
      gateway(clock, () => 100),
      { name: 'gw' },
    );
    const late = gw.ask('order', { timeoutMs: 50 }).catch((e: unknown) => e);
    await advance(clock, 60);
    expect(await late).toMatchObject({ code: 'TIMEOUT' });
    expect(system.tree()[0]).toMatchObject({ status: 'running', restarts: 0 });
  });

  it('is no crash for the loser of a hedged pool ask: the workers are not restarted', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    await system.start(
      pool(
        'gw',
        gateway(clock, (name) => (name === '0' ? 500 : 10)),
        { size: 2, routing: 'round-robin', hedge: { afterMs: 20, max: 2 } },
      ),
    );
    const answer = system.lookup('/gw')!.ask('order', { timeoutMs: 1000 });
    await advance(clock, 50);
    expect(await answer).toBe('filled');
    await advance(clock, 20);
    expect(system.tree()[0]!.children.map((c) => c.restarts)).toEqual([0, 0]);
  });

  it('still crashes for any other error after its signal aborted', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    const Sloppy = defineActor<null, string>({
      async receive(_s, _m, ctx) {
        await abortableCall(clock, 100, ctx.signal).catch(() => undefined);
        throw new Error('a bug after the abort');
      },
    });
    const ref = system.spawn(Sloppy);
    const left = ref.ask('x', { timeoutMs: 50 }).catch((e: unknown) => e);
    await advance(clock, 60);
    await left;
    await nextTurn();
    expect(system.tree()[0]!.restarts).toBe(1);
  });
});
