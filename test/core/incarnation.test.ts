/**
 * The lifecycle of an incarnation: ordered starts, refs across a parent's restart, the one stop
 * budget, terminate only after a completed init, and a stopping actor's name.
 */
import { describe, expect, it } from 'vitest';
import { Crasher, type CrasherMsg, Hanger } from '../../actors/chaos/chaos.js';
import { type ActorRef, type ActorSystem, child, ConfigError, defineActor, SimulatedClock, supervisor, type TreeSpec } from '../../src/index.js';
import { nextTurn, startSystem } from '../helpers.js';

async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn();
}

/** Advances the simulated clock in steps, letting promise chains run between them. */
async function advance(clock: SimulatedClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await settle(2);
  }
}

interface SlowInitArgs {
  journal: string[];
  clock: SimulatedClock;
  ms: number;
  /** Inits that fail (shared across incarnations), then succeed. */
  failures?: { left: number };
}

/** An actor whose init takes `ms` on the simulated clock, journaling its start and end. */
const SlowInit = defineActor<null, CrasherMsg, SlowInitArgs>({
  async init({ journal, clock, ms, failures }, ctx) {
    journal.push(`begin ${ctx.name}`);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
    if (failures && failures.left > 0) {
      failures.left--;
      journal.push(`fail ${ctx.name}`);
      throw new Error(`init of ${ctx.name} failed`);
    }
    journal.push(`end ${ctx.name}`);
    return null;
  },
  receive(_s, msg, ctx) {
    if (msg.type === 'crash') throw new Error('crash');
    if (msg.type === 'work') ctx.reply(msg.value);
  },
});

describe('start order', () => {
  it('starts children one after another, each after the previous async init settled', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const journal: string[] = [];
    let resolved = false;
    const started = system
      .start(supervisor('s', { strategy: 'one-for-one', children: ['a', 'b', 'c'].map((n) => child(n, SlowInit, { args: { journal, clock, ms: 100 } })) }))
      .then(() => (resolved = true));
    await advance(clock, 250);
    expect(journal).toEqual(['begin a', 'end a', 'begin b', 'end b', 'begin c']);
    expect(resolved).toBe(false); // start resolves once every init has settled
    await advance(clock, 100);
    await started;
    expect(journal).toEqual(['begin a', 'end a', 'begin b', 'end b', 'begin c', 'end c']);
  });

  it('does not start later children while an earlier one keeps failing its restart under rest-for-one', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const journal: string[] = [];
    const failures = { left: 0 };
    const start = system.start(
      supervisor('s', {
        strategy: 'rest-for-one',
        intensity: { maxRestarts: 10, withinMs: 60_000 },
        children: [
          child('a', SlowInit, { args: { journal, clock, ms: 10 } }),
          child('b', SlowInit, { args: { journal, clock, ms: 10, failures } }),
          child('c', SlowInit, { args: { journal, clock, ms: 10 } }),
        ],
      }),
    );
    await advance(clock, 50);
    await start;
    journal.length = 0;
    failures.left = 3; // b's next three inits fail
    (system.lookup('/s/b') as ActorRef<CrasherMsg>).tell({ type: 'crash' });
    await advance(clock, 200);
    // c is stopped with b and started once, after b finally runs — not once per failed attempt
    expect(journal).toEqual(['begin b', 'fail b', 'begin b', 'fail b', 'begin b', 'fail b', 'begin b', 'end b', 'begin c', 'end c']);
  });
});

describe('refs across restarts', () => {
  function tree(): TreeSpec {
    // /top restarts /top/s when /s gives up (intensity 0), which restarts /top/s/w
    return supervisor('top', {
      strategy: 'one-for-one',
      intensity: { maxRestarts: 10, withinMs: 1000 },
      children: [
        supervisor('s', {
          strategy: 'one-for-one',
          intensity: { maxRestarts: 0, withinMs: 1000 },
          children: [child('w', Crasher), supervisor('inner', { strategy: 'one-for-one', children: [child('deep', Crasher)] })],
        }),
      ],
    });
  }

  it('keeps a ref valid across a restart of its supervisor', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    await system.start(tree());
    const w = system.lookup('/top/s/w') as ActorRef<CrasherMsg>;
    const deep = system.lookup('/top/s/inner/deep') as ActorRef<CrasherMsg>;
    w.tell({ type: 'crash' }); // /s exceeds its intensity: /top restarts /s with all below it
    await settle();
    expect(system.tree()[0]!.children[0]!.restarts).toBe(1);
    expect(w.alive).toBe(true);
    expect(system.lookup('/top/s/w')).toBe(w);
    expect(system.lookup('/top/s/inner/deep')).toBe(deep);
    expect(await w.ask({ type: 'work', value: 'w' })).toBe('w');
    expect(await deep.ask({ type: 'work', value: 'deep' })).toBe('deep');
  });

  it('keeps the messages sent while its supervisor restarts', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    await system.start(
      supervisor('top', {
        strategy: 'one-for-one',
        backoff: { minMs: 100, maxMs: 100, jitter: 0 },
        children: [supervisor('s', { strategy: 'one-for-one', intensity: { maxRestarts: 0, withinMs: 1000 }, children: [child('w', Crasher)] })],
      }),
    );
    const w = system.lookup('/top/s/w') as ActorRef<CrasherMsg>;
    w.tell({ type: 'crash' });
    await settle();
    const answer = w.ask({ type: 'work', value: 'queued' }, { timeoutMs: 10_000 });
    await advance(clock, 150);
    expect(await answer).toBe('queued');
  });

  it('stops a held child that the restarted parent does not spawn again', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    let spawnDynamic = true;
    const Parent = defineActor<null, 'crash' | 'ping'>({
      init(_a, ctx) {
        if (spawnDynamic) ctx.spawn(Crasher, { name: 'dyn' });
        return null;
      },
      receive(_s, msg, ctx) {
        if (msg === 'crash') throw new Error('crash');
        ctx.reply('pong');
      },
    });
    const parent = system.spawn(Parent, { name: 'p' });
    const dyn = system.lookup('/p/dyn')!;
    spawnDynamic = false;
    parent.tell('crash');
    await settle();
    expect(await parent.ask('ping')).toBe('pong');
    expect(dyn.alive).toBe(false);
    expect(system.lookup('/p/dyn')).toBeUndefined();
  });
});

/** Journals terminate; its handler and terminate take the given times on the simulated clock. */
function timed(clock: SimulatedClock, journal: string[], handlerMs: number, terminateMs: number) {
  return defineActor<null, 'work'>({
    async receive() {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, handlerMs));
      journal.push('handled');
    },
    async terminate(_s, _r, ctx) {
      journal.push(`terminate ${ctx.name}`);
      await new Promise<void>((resolve) => clock.setTimeout(resolve, terminateMs));
      journal.push(`terminated ${ctx.name}`);
    },
  });
}

/** Stops `ref` and returns the simulated time the stop took. */
async function timeStop(system: ActorSystem, clock: SimulatedClock, ref: ActorRef): Promise<number> {
  const from = clock.now();
  let stoppedAt = -1;
  void system.stop(ref).then(() => (stoppedAt = clock.now()));
  for (let i = 0; i < 2000 && stoppedAt < 0; i++) {
    clock.advance(10);
    await settle(2);
  }
  return stoppedAt - from;
}

describe('one stop budget', () => {
  it('bounds the whole stop by shutdownMs: the handler in flight and terminate share it', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const journal: string[] = [];
    const ref = system.spawn(timed(clock, journal, 600, 800), { name: 'a', shutdownMs: 1000 });
    ref.tell('work');
    await settle();
    expect(await timeStop(system, clock, ref)).toBe(1000);
    expect(journal).toEqual(['handled', 'terminate a']); // terminate was cut at 1000, not 600 + 800
  });

  it("bounds the stop of a supervisor's whole subtree by the supervisor's shutdownMs", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const sup = await system.start(
      supervisor('s', {
        strategy: 'one-for-one',
        shutdownMs: 1000,
        children: [supervisor('mid', { strategy: 'one-for-one', children: [child('hang', Hanger, { shutdownMs: 60_000 })] })],
      }),
    );
    system.lookup('/s/mid/hang')!.tell('hang');
    await settle();
    expect(await timeStop(system, clock, sup)).toBe(1000);
    expect(system.lookup('/s/mid/hang')).toBeUndefined();
  });

  it('runs terminate only for incarnations whose init completed', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const terminated: string[] = [];
    const FailingInit = defineActor<null, unknown>({
      init: () => {
        throw new Error('no start');
      },
      receive() {},
      terminate: (_s, _r, ctx) => void terminated.push(ctx.name),
    });
    const HangingInit = defineActor<null, unknown>({
      init: () => new Promise<null>(() => {}),
      receive() {},
      terminate: (_s, _r, ctx) => void terminated.push(ctx.name),
    });
    system.spawn(FailingInit, { name: 'failing', restart: 'temporary' });
    const hanging = system.spawn(HangingInit, { name: 'hanging', shutdownMs: 100 });
    await settle();
    expect(await timeStop(system, clock, hanging)).toBe(100);
    expect(terminated).toEqual([]);
  });
});

describe('a stopping actor', () => {
  it('stays alive and keeps its name until it has stopped', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const journal: string[] = [];
    const ref = system.spawn(timed(clock, journal, 0, 500), { name: 'slow' });
    const stopped = system.stop(ref);
    await settle();
    expect(journal).toEqual(['terminate slow']);
    expect(ref.alive).toBe(true);
    expect(system.lookup('/slow')).toBe(ref);
    expect(() => system.spawn(Crasher, { name: 'slow' })).toThrow(ConfigError);
    expect(ref.tell('work')).toBe(false); // it takes no new messages
    await advance(clock, 500);
    await stopped;
    expect(ref.alive).toBe(false);
    expect(system.lookup('/slow')).toBeUndefined();
    expect(system.spawn(Crasher, { name: 'slow' }).alive).toBe(true);
  });
});

describe('deep trees', () => {
  it('starts, finds and stops a declared tree 3,000 levels deep', async () => {
    const system = await startSystem();
    let node: TreeSpec = child('leaf', Crasher);
    const names: string[] = [];
    for (let i = 3000; i > 0; i--) {
      node = supervisor(`l${i}`, { strategy: 'one-for-one', children: [node] });
      names.unshift(`l${i}`);
    }
    await system.start(node);
    const leafPath = `/${names.join('/')}/leaf`;
    const leaf = system.lookup(leafPath) as ActorRef<CrasherMsg>;
    expect(leaf).toBeDefined();
    expect(await leaf.ask({ type: 'work', value: 'deep' })).toBe('deep');
    expect(system.metrics().actors).toBe(3001);
    await system.shutdown();
    expect(leaf.alive).toBe(false);
  });
});

describe('restarts racing with exits (review)', () => {
  it('holds, not stops, a child that crashes while its supervisor is ending for a restart', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const SlowTerminate = defineActor<null, unknown>({
      receive() {},
      terminate: () => new Promise<void>((resolve) => clock.setTimeout(resolve, 100)),
    });
    await system.start(
      supervisor('top', {
        strategy: 'one-for-all',
        children: [supervisor('s', { strategy: 'one-for-one', children: [child('w', Crasher), child('slow', SlowTerminate)] }), child('c', Crasher)],
      }),
    );
    const w = system.lookup('/top/s/w') as ActorRef<CrasherMsg>;
    (system.lookup('/top/c') as ActorRef<CrasherMsg>).tell({ type: 'crash' }); // /top restarts all
    await settle();
    w.tell({ type: 'crash' }); // /top/s is ending (slow's terminate takes 100 ms); w not held yet
    await advance(clock, 300);
    expect(system.lookup('/top/s/w')).toBe(w);
    expect(w.alive).toBe(true);
    expect(system.tree()[0]!.children[0]!.children.map((n) => n.name)).toEqual(['w', 'slow']);
    expect(await w.ask({ type: 'work', value: 'back' })).toBe('back');
    const stopped = system.shutdown(); // slow's terminate runs on the simulated clock
    await advance(clock, 200);
    await stopped;
  });

  it("does not let an ended incarnation's ctx.stop() end the next one", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const Stopper = defineActor<null, string>({
      async receive(_s, m, ctx) {
        if (m === 'ping') return void ctx.reply('pong');
        ctx.stop();
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 100));
      },
    });
    await system.start(
      supervisor('s', {
        strategy: 'one-for-all',
        children: [child('a', Stopper, { restart: 'transient', shutdownMs: 10 }), child('b', Crasher)],
      }),
    );
    const a = system.lookup('/s/a') as ActorRef<string>;
    a.tell('stop-later');
    await settle();
    (system.lookup('/s/b') as ActorRef<CrasherMsg>).tell({ type: 'crash' }); // a is killed and restarted
    await advance(clock, 200);
    expect(a.alive).toBe(true);
    expect(await a.ask('ping')).toBe('pong');
  });
});

describe('stopping a busy actor', () => {
  it("aborts the handler's ctx.signal at once, so a call that honours it ends the stop early", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const seen: string[] = [];
    const Stalled = defineActor<null, string>({
      receive: (_s, _m, ctx) =>
        new Promise<void>((_resolve, reject) => {
          ctx.signal!.addEventListener('abort', () => {
            seen.push(String((ctx.signal!.reason as Error).message));
            reject(ctx.signal!.reason);
          });
        }),
    });
    const ref = system.spawn(Stalled, { shutdownMs: 5000 });
    const answer = ref.ask('x', { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await settle();
    const stopped = system.stop(ref);
    await settle();
    await stopped; // without the abort it would take the whole 5 s budget (and the clock never moves here)
    expect(seen).toEqual(['actor /$1 is stopping']);
    expect(await answer).toMatchObject({ code: 'ACTOR_STOPPED' });
  });
});
