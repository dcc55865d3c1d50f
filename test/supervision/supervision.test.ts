import { describe, expect, it } from 'vitest';
import { Crasher, type CrasherMsg, Hanger, InitCrasher } from '../../actors/chaos/chaos.js';
import {
  ActorStoppedError,
  type ActorRef,
  type ActorSystem,
  child,
  ConfigError,
  defineActor,
  type DownSignal,
  SimulatedClock,
  supervisor,
  type TreeNode,
} from '../../src/index.js';
import { cellOf } from '../../src/core/cell.js';
import { nextTurn, startSystem, until, findNode as find } from '../helpers.js';

function node(system: ActorSystem, path: string): TreeNode {
  const hit = find(system.tree(), path);
  if (!hit) throw new Error(`no node ${path}`);
  return hit;
}

/** Lets all pending restarts (microtask chains) run. */
async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await nextTurn();
}

function crash(system: ActorSystem, path: string): void {
  (system.lookup(path) as ActorRef<CrasherMsg>).tell({ type: 'crash' });
}

async function threeChildren(strategy: 'one-for-one' | 'one-for-all' | 'rest-for-one') {
  const journal: string[] = [];
  const system = await startSystem({ clock: new SimulatedClock() });
  await system.start(
    supervisor('sup', {
      strategy,
      intensity: { maxRestarts: 10, withinMs: 1000 },
      children: ['a', 'b', 'c'].map((name) => child(name, Crasher, { args: { journal } })),
    }),
  );
  journal.length = 0;
  return { system, journal };
}

describe('strategies', () => {
  it('restarts only the crashed child under one-for-one', async () => {
    const { system, journal } = await threeChildren('one-for-one');
    crash(system, '/sup/b');
    await settle();
    expect(journal).toEqual(['terminate /sup/b', 'init /sup/b']);
    expect(['a', 'b', 'c'].map((n) => node(system, `/sup/${n}`).restarts)).toEqual([0, 1, 0]);
  });

  it('stops all children in reverse start order and restarts them in start order under one-for-all', async () => {
    const { system, journal } = await threeChildren('one-for-all');
    crash(system, '/sup/b');
    await settle();
    expect(journal).toEqual(['terminate /sup/c', 'terminate /sup/b', 'terminate /sup/a', 'init /sup/a', 'init /sup/b', 'init /sup/c']);
  });

  it('stops the crashed child and those started after it under rest-for-one', async () => {
    const { system, journal } = await threeChildren('rest-for-one');
    crash(system, '/sup/b');
    await settle();
    expect(journal).toEqual(['terminate /sup/c', 'terminate /sup/b', 'init /sup/b', 'init /sup/c']);
    expect(node(system, '/sup/a').restarts).toBe(0);
  });

  it('keeps the ref, path and mailbox across a restart; the crashing message is not redelivered', async () => {
    const system = await startSystem();
    await system.start(supervisor('s', { strategy: 'one-for-one', children: [child('w', Crasher)] }));
    const ref = system.lookup('/s/w') as ActorRef<CrasherMsg>;
    ref.tell({ type: 'work' });
    ref.tell({ type: 'crash' });
    ref.tell({ type: 'work' });
    ref.tell({ type: 'work' });
    expect(await ref.ask({ type: 'get' })).toBe(2); // the two after the crash, in the new incarnation
    expect(system.lookup('/s/w')).toBe(ref);
    expect(system.deadLetters.list().map((l) => [l.reason, l.message])).toEqual([['crashed', { type: 'crash' }]]);
  });

  it('redelivers a crashing message up to maxMessageCrashes, then dead-letters it', async () => {
    const system = await startSystem();
    const journal: string[] = [];
    const ref = system.spawn(Crasher, { name: 'w', maxMessageCrashes: 3, args: { journal } });
    ref.tell({ type: 'crash' });
    ref.tell({ type: 'work' });
    expect(await ref.ask({ type: 'get' })).toBe(1);
    expect(journal.filter((e) => e.startsWith('init'))).toHaveLength(4); // first start + 3 restarts
    expect(system.deadLetters.counts()).toEqual({ crashed: 1 });
  });
});

describe('restart types', () => {
  const Quitter = defineActor<null, 'quit' | 'crash' | 'ping'>({
    receive(_s, m, ctx) {
      if (m === 'quit') ctx.stop();
      else if (m === 'crash') throw new Error('crash');
      else ctx.reply('pong');
    },
  });

  it('restarts a permanent child after a crash and after a normal exit', async () => {
    const system = await startSystem();
    const ref = system.spawn(Quitter, { name: 'p', restart: 'permanent' });
    ref.tell('crash');
    ref.tell('quit');
    expect(await ref.ask('ping')).toBe('pong');
    expect(node(system, '/p').restarts).toBe(2);
  });

  it('restarts a transient child after a crash but not after a normal exit', async () => {
    const system = await startSystem();
    const ref = system.spawn(Quitter, { name: 't', restart: 'transient' });
    ref.tell('crash');
    expect(await ref.ask('ping')).toBe('pong');
    ref.tell('quit');
    await until(() => !ref.alive);
    expect(system.tree()).toEqual([]);
  });

  it('never restarts a temporary child', async () => {
    const system = await startSystem();
    const ref = system.spawn(Quitter, { name: 'tmp', restart: 'temporary' });
    ref.tell('crash');
    await until(() => !ref.alive);
    expect(system.lookup('/tmp')).toBeUndefined();
  });

  it('never restarts after system.stop, whatever the restart type', async () => {
    const system = await startSystem();
    const ref = system.spawn(Quitter, { name: 'p' });
    await system.stop(ref);
    await settle();
    expect(ref.alive).toBe(false);
    expect(system.tree()).toEqual([]);
  });

  it('stops, and does not restart, a temporary sibling under one-for-all', async () => {
    const system = await startSystem();
    await system.start(
      supervisor('s', {
        strategy: 'one-for-all',
        children: [child('a', Crasher), child('tmp', Crasher, { restart: 'temporary' }), child('c', Crasher, { restart: 'transient' })],
      }),
    );
    crash(system, '/s/a');
    await settle();
    expect(node(system, '/s').children.map((c) => [c.name, c.status, c.restarts])).toEqual([
      ['a', 'running', 1],
      ['c', 'running', 1],
    ]);
  });
});

describe('restart intensity and escalation', () => {
  it('counts restarts in a sliding window: restarts older than withinMs do not count', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    await system.start(supervisor('s', { strategy: 'one-for-one', intensity: { maxRestarts: 2, withinMs: 1000 }, children: [child('w', Crasher)] }));
    for (const at of [0, 600, 1200, 1800]) {
      clock.advance(at - clock.now());
      crash(system, '/s/w');
      await settle();
    }
    expect(node(system, '/s/w')).toMatchObject({ status: 'running', restarts: 4 });
    expect(node(system, '/s').restarts).toBe(0);
    // three within one window: the supervisor gives up and is restarted by its parent
    clock.advance(1000);
    for (let i = 0; i < 3; i++) {
      crash(system, '/s/w');
      await settle();
    }
    expect(node(system, '/s').restarts).toBe(1);
    // the same actor (same ref), restarted with its supervisor: 4 + 2 restarts of its own + 1
    expect(node(system, '/s/w')).toMatchObject({ status: 'running', restarts: 7 });
  });

  it('escalates through three levels up to the root, which marks the tree failed without dying', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const intensity = { maxRestarts: 1, withinMs: 10_000 };
    const counter = { inits: 0 };
    const started = system.start(
      supervisor('top', {
        strategy: 'one-for-one',
        intensity,
        children: [
          supervisor('mid', {
            strategy: 'one-for-one',
            intensity,
            children: [supervisor('leaf', { strategy: 'one-for-one', intensity, children: [child('w', InitCrasher, { args: { counter } })] })],
          }),
        ],
      }),
    );
    const bystander = system.spawn(Crasher, { name: 'bystander' });
    // its inits never succeed, so the tree never starts: start() rejects once the root gave up
    await expect(started).rejects.toThrow(ActorStoppedError);
    expect(node(system, '/top').status).toBe('failed');
    expect(system.escalations().map((e) => e.path)).toEqual(['/top']);
    // each level restarted the one below once before giving up; the root restarted /top 3 times
    expect(counter.inits).toBe(2 * 2 * 2 * 4);
    expect(await bystander.ask({ type: 'work', value: 'still here' })).toBe('still here');
    expect(system.lookup('/top')).toBeUndefined();
  });

  it('stops all children of a supervisor that gives up, in reverse start order', async () => {
    const journal: string[] = [];
    const system = await startSystem({ clock: new SimulatedClock() });
    await system.start(
      supervisor('s', {
        strategy: 'one-for-one',
        intensity: { maxRestarts: 0, withinMs: 1000 },
        children: ['a', 'b', 'c'].map((n) => child(n, Crasher, { args: { journal } })),
      }),
    );
    journal.length = 0;
    crash(system, '/s/a');
    await settle();
    expect(journal.slice(0, 3)).toEqual(['terminate /s/c', 'terminate /s/b', 'terminate /s/a']);
    expect(journal.slice(3)).toEqual(['init /s/a', 'init /s/b', 'init /s/c']); // the root restarted /s
  });
});

describe('backoff', () => {
  it('delays restarts exponentially on the system clock and resets after stability', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    await system.start(
      supervisor('s', {
        strategy: 'one-for-one',
        intensity: { maxRestarts: 100, withinMs: 1000 },
        backoff: { minMs: 100, maxMs: 400, factor: 2, jitter: 0, resetAfterMs: 5000 },
        children: [child('w', Crasher)],
      }),
    );
    const delayOfNextRestart = async (): Promise<number> => {
      const before = node(system, '/s/w').restarts;
      crash(system, '/s/w');
      await settle();
      const start = clock.now();
      while (node(system, '/s/w').restarts === before) {
        expect(node(system, '/s/w').status).toBe('restarting');
        clock.advance(10);
        await settle(2);
      }
      return clock.now() - start;
    };
    expect(await delayOfNextRestart()).toBe(100);
    expect(await delayOfNextRestart()).toBe(200);
    expect(await delayOfNextRestart()).toBe(400);
    expect(await delayOfNextRestart()).toBe(400); // capped at maxMs
    clock.advance(5000); // stable for resetAfterMs
    expect(await delayOfNextRestart()).toBe(100);
    expect(await delayOfNextRestart()).toBe(200);
    // A message handled to the end since the last restart: no hot loop, the growth starts over.
    system.lookup('/s/w')!.tell({ type: 'work' });
    await settle();
    expect(await delayOfNextRestart()).toBe(100);
  });

  it('keeps messages sent during the backoff and handles them after the restart', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    await system.start(supervisor('s', { strategy: 'one-for-one', backoff: { minMs: 50, maxMs: 50, jitter: 0 }, children: [child('w', Crasher)] }));
    const ref = system.lookup('/s/w') as ActorRef<CrasherMsg>;
    ref.tell({ type: 'crash' });
    await settle();
    ref.tell({ type: 'work' });
    const answer = ref.ask({ type: 'get' }, { timeoutMs: 1000 });
    clock.advance(50);
    expect(await answer).toBe(1);
  });

  it('applies jitter within [1 - jitter, 1 + jitter] of the base delay', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, random: () => 1 }); // the largest spread
    await system.start(supervisor('s', { strategy: 'one-for-one', backoff: { minMs: 100, maxMs: 1000, jitter: 0.5 }, children: [child('w', Crasher)] }));
    crash(system, '/s/w');
    await settle();
    clock.advance(149);
    await settle();
    expect(node(system, '/s/w').status).toBe('restarting');
    clock.advance(1);
    await settle();
    expect(node(system, '/s/w').status).toBe('running');
  });
});

describe('watch', () => {
  const Watcher = defineActor<DownSignal[], ActorRef | 'get'>({
    init: () => [],
    receive(downs, m, ctx) {
      if (m === 'get') ctx.reply([...downs]);
      else ctx.watch(m);
    },
    onSignal: (downs, signal) => {
      if (signal.type === 'down') downs.push(signal);
    },
  });

  it('delivers down when the watched actor stops for good, not when it restarts', async () => {
    const system = await startSystem();
    const watcher = system.spawn(Watcher);
    const target = system.spawn(Crasher, { name: 'target' });
    watcher.tell(target);
    await settle();
    target.tell({ type: 'crash' });
    await settle();
    expect(await watcher.ask('get')).toEqual([]);
    await system.stop(target);
    expect(await watcher.ask('get')).toEqual([{ type: 'down', ref: target, reason: 'normal' }]);
  });

  it('delivers down at once when the actor is already dead at watch time, with its crash as reason', async () => {
    const system = await startSystem();
    const target = system.spawn(Crasher, { restart: 'temporary' });
    target.tell({ type: 'crash' });
    await until(() => !target.alive);
    const watcher = system.spawn(Watcher);
    watcher.tell(target);
    const [down] = (await watcher.ask('get')) as DownSignal[];
    expect(down!.ref).toBe(target);
    expect((down!.reason as { error: Error }).error.message).toMatch(/injected crash/);
  });

  it('stops delivering after unwatch', async () => {
    const system = await startSystem();
    const target = system.spawn(Crasher);
    const Unwatcher = defineActor<number, 'go' | 'get'>({
      init: () => 0,
      receive(n, m, ctx) {
        if (m === 'go') {
          ctx.watch(target);
          ctx.unwatch(target);
        } else ctx.reply(n);
      },
      onSignal: (n) => n + 1,
    });
    const w = system.spawn(Unwatcher);
    w.tell('go');
    await settle();
    await system.stop(target);
    expect(await w.ask('get')).toBe(0);
  });
});

describe('shutdown', () => {
  it('stops the whole tree in reverse start order, running terminate', async () => {
    const journal: string[] = [];
    const system = await startSystem();
    await system.start(
      supervisor('app', {
        strategy: 'one-for-one',
        children: [
          child('a', Crasher, { args: { journal } }),
          supervisor('inner', { strategy: 'one-for-all', children: [child('b', Crasher, { args: { journal } }), child('c', Crasher, { args: { journal } })] }),
        ],
      }),
    );
    journal.length = 0;
    await system.shutdown();
    expect(journal).toEqual(['terminate /app/inner/c', 'terminate /app/inner/b', 'terminate /app/a']);
  });

  it('kills a child that does not stop within shutdownMs, and logs it', async () => {
    const clock = new SimulatedClock();
    const lines: Array<Record<string, unknown>> = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const system = await startSystem({ clock, logger });
    await system.start(supervisor('app', { strategy: 'one-for-one', children: [child('stuck', Hanger, { shutdownMs: 300 })] }));
    const stuck = system.lookup('/app/stuck')!;
    stuck.tell('hang');
    await settle();
    let done = false;
    const shutdown = system.shutdown().then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    clock.advance(300);
    await shutdown;
    expect(lines.some((l) => l.path === '/app/stuck' && /killed/.test(String(l.msg)))).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('tree', () => {
  it('shows kinds, statuses, restarts, strategies and mailbox depths', async () => {
    const system = await startSystem();
    await system.start(supervisor('app', { strategy: 'rest-for-one', children: [child('w', Crasher), child('h', Hanger, { shutdownMs: 10 })] }));
    crash(system, '/app/w');
    await settle();
    system.lookup('/app/h')!.tell('hang');
    await settle();
    system.lookup('/app/h')!.tell('ping', { priority: 1 });
    expect(system.tree()).toEqual([
      {
        path: '/app',
        name: 'app',
        kind: 'supervisor',
        status: 'running',
        restarts: 0,
        strategy: 'rest-for-one',
        mailbox: { size: 0, system: 0, byPriority: [0, 0, 0, 0, 0] },
        children: [
          { path: '/app/w', name: 'w', kind: 'worker', status: 'running', restarts: 1, mailbox: { size: 0, system: 0, byPriority: [0, 0, 0, 0, 0] }, children: [] },
          { path: '/app/h', name: 'h', kind: 'worker', status: 'running', restarts: 1, mailbox: { size: 1, system: 0, byPriority: [0, 1, 0, 0, 0] }, children: [] },
        ],
      },
    ]);
  });
});

describe('bad trees', () => {
  it('refuses bad input with a ConfigError naming the option, before anything runs', async () => {
    const system = await startSystem();
    const bad = [
      [supervisor('s', { strategy: 'one-for-some' as never, children: [] }), /\/s: strategy/],
      [supervisor('s', { strategy: 'one-for-one', intensity: { maxRestarts: -1, withinMs: 10 }, children: [] }), /intensity\.maxRestarts/],
      [supervisor('s', { strategy: 'one-for-one', children: [child('x', Crasher), child('x', Crasher)] }), /duplicate child name 'x'/],
      [supervisor('s', { strategy: 'one-for-one', children: [child('x', { receive() {} } as never)] }), /\/s\/x: behavior/],
      [supervisor('s', { strategy: 'one-for-one', children: [child('x', Crasher, { restart: 'sometimes' as never })] }), /restart/],
      [supervisor('s', { strategy: 'one-for-one', backoff: { minMs: 10, maxMs: 5 }, children: [] }), /backoff\.maxMs/],
    ] as const;
    for (const [tree, message] of bad) {
      await expect(system.start(tree)).rejects.toThrow(ConfigError);
      await expect(system.start(tree)).rejects.toThrow(message);
    }
    expect(system.metrics().actors).toBe(0);
  });
});

describe('crash reports', () => {
  it('logs one structured record per crash and one per restart', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const system = await startSystem({ logger });
    await system.start(supervisor('s', { strategy: 'rest-for-one', children: [child('a', Crasher), child('b', Crasher)] }));
    crash(system, '/s/a');
    await until(() => node(system, '/s/b').restarts === 1);
    const crashes = lines.filter((l) => l.level === 50);
    const restarts = lines.filter((l) => /^restarted/.test(String(l.msg)));
    expect(crashes).toEqual([
      expect.objectContaining({
        path: '/s/a',
        supervisor: '/s',
        strategy: 'rest-for-one',
        decision: 'restart',
        restarts: 0,
        err: expect.objectContaining({ message: 'injected crash of /s/a' }),
      }),
    ]);
    expect(restarts.map((l) => [l.path, l.restarts])).toEqual([
      ['/s/a', 1],
      ['/s/b', 1],
    ]);
  });
});

describe('shutdown and crashes', () => {
  it('does not restart an actor that crashes while the system shuts down', async () => {
    const system = await startSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const SlowStop = defineActor({ receive() {}, terminate: () => gate });
    const journal: string[] = [];
    system.spawn(Crasher, { name: 'first', args: { journal } });
    system.spawn(SlowStop, { name: 'second' });
    const shutdown = system.shutdown(); // stops 'second' first, which waits on the gate
    await settle();
    system.lookup('/first')!.tell({ type: 'crash' });
    await settle();
    release();
    await shutdown;
    expect(journal).toEqual(['init /first', 'terminate /first']); // crashed, not restarted
    expect(system.metrics().actors).toBe(0);
  });
});

describe('escalation and stopping, with handlers in flight', () => {
  it("lets a supervisor's handler in flight answer its ask when a child escalates into it", async () => {
    const system = await startSystem();
    const Bad = defineActor({
      init() {
        throw new Error('init');
      },
      receive() {},
    });
    const Parent = defineActor<null, string>({
      async receive(_s, _m, ctx) {
        for (let i = 0; i < 5; i++) {
          try {
            ctx.spawn(Bad, { name: `b${i}` });
          } catch {
            // the parent may already be restarting
          }
          await new Promise((r) => setTimeout(r, 1));
        }
        ctx.reply('ok');
      },
    });
    const ref = system.spawn(Parent, { name: 'p' });
    expect(await ref.ask('go', { timeoutMs: 1000 })).toBe('ok');
  });

  it('does not restart a child waiting for its backoff once its supervisor is stopping', async () => {
    const system = await startSystem();
    const journal: string[] = [];
    const root = await system.start(
      supervisor('s', {
        strategy: 'one-for-one',
        backoff: { minMs: 1000, maxMs: 1000, jitter: 0 },
        children: [child('a', Crasher, { args: { journal } }), child('b', Crasher, { args: { journal } })],
      }),
    );
    journal.length = 0;
    crash(system, '/s/a');
    await settle();
    await system.stop(root);
    expect(journal).toEqual(['terminate /s/a', 'terminate /s/b']);
  });

  it('forgets a stopped watcher in the actors it watched', async () => {
    const system = await startSystem();
    const target = system.spawn(Crasher, { name: 't' });
    const Watcher = defineActor({ init: (_a, ctx) => ctx.watch(target), receive() {} });
    for (let i = 0; i < 20; i++) await system.stop(system.spawn(Watcher));
    expect(cellOf(target).watchers?.size ?? 0).toBe(0);
  });
});

describe('the root supervisor', () => {
  it("counts restarts per top-level actor: unrelated actors do not use up each other's intensity", async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const a = system.spawn(Crasher, { name: 'a' });
    const b = system.spawn(Crasher, { name: 'b' });
    for (let i = 0; i < 3; i++) {
      a.tell({ type: 'crash' });
      b.tell({ type: 'crash' });
      await settle();
    }
    expect(system.tree().map((n) => [n.name, n.status, n.restarts])).toEqual([
      ['a', 'running', 3],
      ['b', 'running', 3],
    ]);
    a.tell({ type: 'crash' }); // a fourth within 5 s: a alone escalates, waiting to be revived
    await settle();
    expect(system.tree().map((n) => [n.name, n.status])).toEqual([
      ['a', 'restarting'],
      ['b', 'running'],
    ]);
    expect(system.escalations().map((e) => [e.path, e.decision])).toEqual([['/a', 'revive']]);
  });

  it('takes its intensity and backoff from ActorSystem.start({ root })', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({
      clock,
      random: () => 0.5,
      root: { intensity: { maxRestarts: 1, withinMs: 10_000 }, backoff: { minMs: 100, maxMs: 100, jitter: 0 } },
    });
    const a = system.spawn(Crasher, { name: 'a' });
    a.tell({ type: 'crash' });
    await settle();
    expect(system.tree()[0]!.status).toBe('restarting'); // waiting for the root's backoff
    clock.advance(100);
    await settle();
    expect(system.tree()[0]).toMatchObject({ status: 'running', restarts: 1 });
    a.tell({ type: 'crash' }); // a second restart within 10 s: more than maxRestarts 1
    await settle();
    expect(system.escalations().map((e) => [e.path, e.decision])).toEqual([['/a', 'revive']]);
    expect(system.mode).toBe('safe'); // a root escalation raises the mode
    clock.advance(99); // revived after the root's backoff, not at once
    await settle();
    expect(system.tree()[0]!.status).toBe('restarting');
    clock.advance(1);
    await settle();
    expect(system.tree()[0]).toMatchObject({ status: 'running', restarts: 2 });
    expect(await a.ask({ type: 'work', value: 'back' })).toBe('back'); // the same ref
  });

  it('revives a crash-looping subtree about once a second, its healthy siblings untouched, and it serves again once the fault ends', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, random: () => 0.5 });
    let faulty = true;
    const Flaky = defineActor<null, string>({
      receive(_s, msg, ctx) {
        if (faulty) throw new Error('fault');
        ctx.reply(msg);
      },
    });
    const tree = await system.start(supervisor('trading', { strategy: 'one-for-all', intensity: { maxRestarts: 2, withinMs: 1000 }, children: [child('gw', Flaky)] }));
    const healthy = system.spawn(Crasher, { name: 'healthy' });
    const gw = system.lookup('/trading/gw')!;
    let revivals = 0;
    for (let t = 0; t < 10_000; t += 50) {
      gw.tell('tick');
      clock.advance(50);
      await settle();
      revivals = system.escalations().length;
    }
    // 10 s of faults: revived with a backoff of at most 1 s, never in a storm
    expect(revivals).toBeGreaterThanOrEqual(5);
    expect(revivals).toBeLessThanOrEqual(40);
    expect(system.tree().find((n) => n.name === 'healthy')).toMatchObject({ status: 'running', restarts: 0 });
    faulty = false; // the fault ends: within a second the same refs serve again
    let back = -1;
    for (let t = 0; t <= 1000 && back < 0; t += 50) {
      const answer = gw.ask('ping', { timeoutMs: 40 }).catch(() => null);
      await settle();
      clock.advance(50);
      await settle();
      if ((await answer) === 'ping') back = t;
    }
    expect(back).toBeGreaterThanOrEqual(0);
    expect(tree.path).toBe('/trading');
    expect(await healthy.ask({ type: 'work', value: 'fine' })).toBe('fine');
  });

  it('refuses bad root limits with a ConfigError naming them', async () => {
    await expect(startSystem({ root: { intensity: { maxRestarts: -1, withinMs: 1000 } } })).rejects.toThrow(/root\.intensity\.maxRestarts/);
    await expect(startSystem({ root: { strategy: 'one-for-all' } as never })).rejects.toThrow(/root\.strategy/);
  });
});

describe('a handler that outlives its incarnation', () => {
  it('cannot answer, spawn or stop through its old ctx once it was killed and the actor restarted', async () => {
    const system = await startSystem();
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const late: unknown[] = [];
    const W = defineActor<null, string>({
      async receive(_s, m, ctx) {
        if (m === 'old') {
          await sleep(60); // killed after shutdownMs 20, then resumes anyway
          late.push(ctx.reply('stale'));
          late.push(await ctx.snapshotNow().catch((e: unknown) => e));
          ctx.stop();
          return;
        }
        await sleep(100);
        ctx.reply('fresh');
      },
    });
    await system.start(supervisor('s', { strategy: 'one-for-all', children: [child('w', W, { shutdownMs: 20 }), child('c', Crasher)] }));
    const w = system.lookup('/s/w')!;
    const old = w.ask('old', { timeoutMs: 2000 }).catch((e: unknown) => e);
    await sleep(5);
    crash(system, '/s/c'); // one-for-all: w is stopped, killed after 20 ms, restarted
    expect(await old).toBeInstanceOf(ActorStoppedError);
    expect(await w.ask('new', { timeoutMs: 2000 })).toBe('fresh');
    expect(late).toEqual([false, -1]);
    expect(node(system, '/s/w')).toMatchObject({ status: 'running', restarts: 1 });
  });
});
