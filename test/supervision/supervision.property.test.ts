import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Crasher, type CrasherMsg } from '../../actors/chaos/chaos.js';
import { seededRandom } from '../../actors/rng.js';
import { type ActorRef, type ActorSystem, child, type RestartType, SimulatedClock, type Strategy, supervisor, type TreeNode } from '../../src/index.js';
import { nextTurn, startSystem } from '../helpers.js';

async function settle(turns = 4): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn();
}

function flatten(nodes: TreeNode[]): TreeNode[] {
  return nodes.flatMap((n) => [n, ...flatten(n.children)]);
}

interface ModelChild {
  name: string;
  type: RestartType;
  alive: boolean;
  restarts: number;
}

/** OTP's rules, written down plainly: what a crash of child i does to the children. */
function modelCrash(strategy: Strategy, children: ModelChild[], i: number): void {
  const crashed = children[i]!;
  if (!crashed.alive) return;
  if (crashed.type === 'temporary') {
    crashed.alive = false;
    return;
  }
  const alive = children.filter((c) => c.alive);
  const victims = strategy === 'one-for-one' ? [crashed] : strategy === 'one-for-all' ? alive : alive.slice(alive.indexOf(crashed));
  for (const v of victims) {
    if (v !== crashed && v.type === 'temporary') v.alive = false;
    else v.restarts++;
  }
}

describe('supervision strategies (property)', () => {
  it('restart exactly the actors a reference model of OTP predicts, for random trees and crash sequences', async () => {
    // modes: false — OTP's rules alone; a storm would otherwise (rightly) raise the system mode
    const system = await startSystem({ clock: new SimulatedClock(), modes: false });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Strategy>('one-for-one', 'one-for-all', 'rest-for-one'),
        fc.array(fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(5), { maxLength: 12 }),
        async (strategy, types, crashes) => {
          const name = `s${run++}`;
          const model: ModelChild[] = types.map((type, i) => ({ name: `c${i}`, type, alive: true, restarts: 0 }));
          await system.start(
            supervisor(name, {
              strategy,
              intensity: { maxRestarts: 1000, withinMs: 1000 },
              children: model.map((c) => child(c.name, Crasher, { restart: c.type })),
            }),
          );
          for (const pick of crashes) {
            const i = pick % model.length;
            if (!model[i]!.alive) continue;
            (system.lookup(`/${name}/${model[i]!.name}`) as ActorRef<CrasherMsg>).tell({ type: 'crash' });
            await settle();
            modelCrash(strategy, model, i);
            const actual = system.tree().find((n) => n.name === name)!.children;
            expect(actual.map((c) => [c.name, c.status, c.restarts])).toEqual(model.filter((c) => c.alive).map((c) => [c.name, 'running', c.restarts]));
          }
          await system.stop(system.lookup(`/${name}`)!);
        },
      ),
      { numRuns: 120 },
    );
  });
});

describe('crash storm', () => {
  it('leaves a consistent tree after 1,000 crashes of random children across 100 actors', async () => {
    const clock = new SimulatedClock();
    const random = seededRandom(2024);
    const system: ActorSystem = await startSystem({ clock, random, modes: false }); // supervision alone
    const strategies: Strategy[] = ['one-for-one', 'one-for-all', 'rest-for-one'];
    const groups = Array.from({ length: 9 }, (_, g) =>
      supervisor(`g${g}`, {
        strategy: strategies[g % 3]!,
        intensity: { maxRestarts: 100_000, withinMs: 1000 },
        ...(g % 2 === 0 ? { backoff: { minMs: 1, maxMs: 20, jitter: 0.5 } } : {}),
        children: Array.from({ length: 10 }, (_, w) => child(`w${w}`, Crasher)),
      }),
    );
    await system.start(supervisor('storm', { strategy: 'one-for-one', intensity: { maxRestarts: 100_000, withinMs: 1000 }, children: groups }));
    const workers = flatten(system.tree())
      .filter((n) => n.kind === 'worker')
      .map((n) => n.path);
    expect(workers).toHaveLength(90);

    let told = 0;
    for (let i = 0; i < 1000; i++) {
      const ref = system.lookup(workers[Math.floor(random() * workers.length)]!) as ActorRef<CrasherMsg> | undefined;
      if (ref?.tell({ type: 'crash' })) told++;
      if (i % 10 === 9) {
        clock.advance(5);
        await settle(2);
      }
    }
    // Crashes told to restarting actors wait in their mailboxes: let the backoffs play out.
    const quiet = () => flatten(system.tree()).every((n) => n.status === 'running' && n.mailbox.size === 0);
    for (let i = 0; i < 2000 && !quiet(); i++) {
      clock.advance(20);
      await settle(2);
    }

    const nodes = flatten(system.tree());
    expect(told).toBe(1000);
    expect(nodes).toHaveLength(100);
    expect(new Set(nodes.map((n) => n.path)).size).toBe(100); // each running exactly once
    expect(nodes.filter((n) => n.status !== 'running').map((n) => [n.path, n.status, n.restarts])).toEqual([]);
    expect(system.metrics().actors).toBe(100); // no orphans outside the tree
    expect(system.escalations()).toEqual([]);
    expect(flatten(system.tree()).reduce((sum, n) => sum + n.restarts, 0)).toBeGreaterThanOrEqual(1000);
    const answers = await Promise.all(workers.map((p) => (system.lookup(p) as ActorRef<CrasherMsg>).ask({ type: 'work', value: p })));
    expect(answers).toEqual(workers);
    // No leaked backoff or shutdown timers; the shared ask-deadline timer ends once it has fired
    // with no ask pending (it is not re-armed per ask, on purpose), and the health sampler once
    // the storm's modes have stepped back down to normal, one level per quiet period.
    clock.advance(10_000);
    expect(system.mode).toBe('normal');
    expect(clock.pendingTimers).toBe(0);
  });
});
