import { describe, expect, it } from 'vitest';
import { child, defineActor, supervisor } from '../../src/index.js';
import { startSystem, until } from '../helpers.js';

describe('scheduler', () => {
  it('does not let a flooded actor starve another: it yields after `throughput` messages', async () => {
    const system = await startSystem();
    const order: string[] = [];
    const Recorder = defineActor<null, string>({ receive: (_s, m) => void order.push(m) });
    const flooded = system.spawn(Recorder, { mailbox: { throughput: 10 } });
    const quiet = system.spawn(Recorder);
    for (let i = 0; i < 10_000; i++) flooded.tell('flood');
    quiet.tell('quiet');
    await until(() => order.length === 10_001);
    expect(order.indexOf('quiet')).toBe(10);
  });

  it('serves ready actors round-robin', async () => {
    const system = await startSystem();
    const order: string[] = [];
    const Recorder = defineActor<null, string>({ receive: (_s, m) => void order.push(m) });
    const a = system.spawn(Recorder, { mailbox: { throughput: 2 } });
    const b = system.spawn(Recorder, { mailbox: { throughput: 2 } });
    for (let i = 0; i < 4; i++) {
      a.tell(`a${i}`);
      b.tell(`b${i}`);
    }
    await until(() => order.length === 8);
    expect(order).toEqual(['a0', 'a1', 'b0', 'b1', 'a2', 'a3', 'b2', 'b3']);
  });

  it('lets timers and I/O run during an endless flood of messages', async () => {
    const system = await startSystem();
    let handled = 0;
    // An actor that tells itself forever: a microtask-only loop would never let a timer fire.
    const Spinner = defineActor<null, string>({
      receive(_s, m, ctx) {
        handled++;
        if (m === 'spin') ctx.self.tell('spin');
      },
    });
    const spinner = system.spawn(Spinner);
    spinner.tell('spin');
    const atTimer = await new Promise<number>((resolve) => setTimeout(() => resolve(handled), 20));
    expect(atTimer).toBeGreaterThan(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    await system.stop(spinner);
  });

  it('lets timers run during a storm of crashes and restarts (which continue on promises)', async () => {
    const system = await startSystem({ modes: false }); // the scheduler alone, not the modes a storm raises
    const { Crasher } = await import('../../actors/chaos/chaos.js');
    await system.start(supervisor('s', { strategy: 'one-for-one', intensity: { maxRestarts: 1e9, withinMs: 1000 }, children: [child('w', Crasher)] }));
    const worker = system.lookup('/s/w')!;
    const crashes = 20_000;
    for (let i = 0; i < crashes; i++) worker.tell({ type: 'crash' });
    const restartsAtTimer = await new Promise<number>((resolve) => setTimeout(() => resolve(system.tree()[0]!.children[0]!.restarts), 1));
    expect(restartsAtTimer).toBeLessThan(crashes);
    await until(() => system.tree()[0]!.children[0]!.restarts === crashes, 20_000);
  });

  it('handles a synchronous handler without a timer or a promise per message', async () => {
    const system = await startSystem();
    let count = 0;
    const ref = system.spawn(defineActor<null, number>({ receive: () => void count++ }));
    const realSetTimeout = globalThis.setTimeout;
    let timers = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      timers++;
      return realSetTimeout(...args);
    }) as typeof setTimeout;
    try {
      for (let i = 0; i < 5000; i++) ref.tell(i);
      await until(() => count === 5000);
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    expect(timers).toBe(0);
    expect(system.metrics().messagesHandled).toBeGreaterThanOrEqual(5000);
  });
});
