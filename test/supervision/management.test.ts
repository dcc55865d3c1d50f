/**
 * Management by path (supervision/management.ts): getState / replaceState in the actor's turn,
 * restartChild through the supervisor's restart path, terminateChild keeping the spec,
 * deleteChild, and the bus events of restarts and escalations.
 */
import { describe, expect, it } from 'vitest';
import {
  type ActorEvent,
  type ActorRef,
  ActorStoppedError,
  type ActorSystem,
  child,
  ConfigError,
  defineActor,
  isGenesisError,
  pool,
  SimulatedClock,
  supervisor,
} from '../../src/index.js';
import { nextTurn, startSystem, until, findNode as find } from '../helpers.js';

type Msg = { type: 'add'; n: number } | { type: 'get' } | { type: 'crash' } | { type: 'wait'; gate: Promise<void> };

const Counter = defineActor<{ n: number }, Msg>({
  init: () => ({ n: 0 }),
  async receive(state, msg, ctx) {
    if (msg.type === 'add') return { n: state.n + msg.n };
    if (msg.type === 'crash') throw new Error('boom');
    if (msg.type === 'wait') await msg.gate;
    ctx.reply(state.n);
    return state;
  },
});

/** A counter with a journal of its inits and terminates. */
const Journaled = defineActor<{ n: number; journal: string[] }, Msg, { journal: string[] }>({
  init: (args, ctx) => {
    args.journal.push(`init ${ctx.path}`);
    return { n: 0, journal: args.journal };
  },
  receive(state, msg, ctx) {
    if (msg.type === 'add') return { ...state, n: state.n + msg.n };
    if (msg.type === 'crash') throw new Error('boom');
    ctx.reply(state.n);
    return state;
  },
  terminate: (state, _reason, ctx) => void state.journal.push(`terminate ${ctx.path}`),
});

/** The events `listener` got, once it has `count` of them. */
async function received(listener: ActorRef<'get'>, count: number): Promise<[string, unknown][]> {
  for (let i = 0; i < 200; i++) {
    const events = (await listener.ask('get')) as ActorEvent[];
    if (events.length >= count) return events.map((e) => [e.topic, e.data]);
    await nextTurn();
  }
  throw new Error(`fewer than ${count} events`);
}

const Listener = defineActor<ActorEvent[], 'get', { topics: string[] }>({
  init: (args, ctx) => {
    for (const topic of args.topics) ctx.subscribe(topic);
    return [];
  },
  receive: (events, _m, ctx) => void ctx.reply([...events]),
  onEvent: (events, event) => void events.push(event),
});

async function tree(system: ActorSystem, journal: string[]) {
  await system.start(
    supervisor('sup', {
      strategy: 'one-for-all',
      children: [child('a', Journaled, { args: { journal } }), child('b', Journaled, { args: { journal } })],
    }),
  );
  journal.length = 0;
}

describe('getState and replaceState', () => {
  it('reads the state by path; a bad path is a ConfigError, a missing actor an ActorStoppedError naming it', async () => {
    const system = await startSystem();
    const c = system.spawn(Counter, { name: 'c' });
    c.tell({ type: 'add', n: 5 });
    await c.ask({ type: 'get' });
    expect(system.getState('/c')).toEqual({ n: 5 });
    expect(() => system.getState(42 as unknown as string)).toThrow(ConfigError);
    expect(() => system.getState('c')).toThrow(ConfigError);
    expect(() => system.getState('/nobody')).toThrow(expect.objectContaining({ code: 'ACTOR_STOPPED', path: '/nobody' }));
  });

  it('replaces the state in the actor’s own turn, after the handler in progress', async () => {
    const system = await startSystem();
    const c = system.spawn(Counter, { name: 'c' });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const busy = c.ask({ type: 'wait', gate });
    await nextTurn();
    let ran = false;
    const replaced = system.replaceState<{ n: number }>('/c', (s) => {
      ran = true;
      return { n: s.n + 100 };
    });
    await nextTurn();
    expect(ran).toBe(false); // the handler in progress holds the turn
    open();
    expect(await busy).toBe(0);
    expect(await replaced).toEqual({ n: 100 });
    expect(await c.ask({ type: 'get' })).toBe(100);
  });

  it('rejects when fn throws or returns a promise, leaving the state unchanged and the actor uncrashed', async () => {
    const system = await startSystem();
    const c = system.spawn(Counter, { name: 'c' });
    c.tell({ type: 'add', n: 7 });
    await expect(
      system.replaceState('/c', () => {
        throw new Error('operator typo');
      }),
    ).rejects.toThrow('operator typo');
    await expect(system.replaceState('/c', async () => ({ n: 1 }))).rejects.toBeInstanceOf(ConfigError);
    expect(await c.ask({ type: 'get' })).toBe(7);
    expect(find(system.tree(), '/c')).toMatchObject({ status: 'running', restarts: 0 });
    await expect(system.replaceState('/nobody', (s) => s)).rejects.toBeInstanceOf(ActorStoppedError);
  });
});

describe('restartChild', () => {
  it('restarts only that actor through its supervisor: same ref, counted, published as actor.restarted', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const journal: string[] = [];
    await tree(system, journal);
    const listener = system.spawn(Listener, { name: 'l', args: { topics: ['actor.restarted'] } });
    const a = system.lookup('/sup/a') as ActorRef<Msg>;
    a.tell({ type: 'add', n: 3 });
    expect(await a.ask({ type: 'get' })).toBe(3);
    await system.restartChild('/sup/a');
    expect(journal).toEqual(['terminate /sup/a', 'init /sup/a']); // not /sup/b, though the strategy is one-for-all
    expect(system.lookup('/sup/a')).toBe(a);
    expect(await a.ask({ type: 'get' })).toBe(0); // a new incarnation, from init
    expect(find(system.tree(), '/sup/a')).toMatchObject({ status: 'running', restarts: 1 });
    expect(system.metrics().restarts).toEqual({ total: 1, byPath: { '/sup/a': 1 } });
    expect(await received(listener, 1)).toEqual([['actor.restarted', { path: '/sup/a', restarts: 1 }]]);
  });

  it('runs terminate and keeps queued messages across the restart', async () => {
    const system = await startSystem();
    const seen: string[] = [];
    const Keeper = defineActor<number, number>({
      init: () => 0,
      receive(state, n, ctx) {
        seen.push(`got ${n}`);
        ctx.reply(state + n);
        return state + n;
      },
      terminate: () => void seen.push('terminate'),
    });
    const k = system.spawn(Keeper, { name: 'k' });
    await k.ask(1);
    const restarting = system.restartChild('/k');
    const later = k.ask(2); // queued while it restarts: handled by the new incarnation
    await restarting;
    expect(await later).toBe(2);
    expect(seen).toEqual(['got 1', 'terminate', 'got 2']);
  });
});

describe('terminateChild and deleteChild', () => {
  it('terminateChild stops a child for good but keeps its spec: restartChild brings it back', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const journal: string[] = [];
    await tree(system, journal);
    const old = system.lookup('/sup/a') as ActorRef<Msg>;
    await system.terminateChild('/sup/a');
    await nextTurn();
    expect(journal).toEqual(['terminate /sup/a']); // permanent, yet its supervisor did not restart it
    expect(find(system.tree(), '/sup/a')).toMatchObject({ status: 'stopped' });
    expect(system.lookup('/sup/a')).toBeUndefined();
    expect(old.tell({ type: 'add', n: 1 })).toBe(false);
    expect(() => system.getState('/sup/a')).toThrow(ActorStoppedError);
    expect(find(system.tree(), '/sup/b')).toMatchObject({ status: 'running' });

    await system.restartChild('/sup/a');
    expect(journal).toEqual(['terminate /sup/a', 'init /sup/a']);
    expect(find(system.tree(), '/sup/a')).toMatchObject({ status: 'running' });
    const fresh = system.lookup('/sup/a') as ActorRef<Msg>;
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(old); // a new actor (OTP: a new pid); the old ref stays dead
    expect(old.alive).toBe(false);
    expect(await fresh.ask({ type: 'get' })).toBe(0);
    // and it is supervised as before: a crash restarts it (one-for-all: b too)
    journal.length = 0;
    fresh.tell({ type: 'crash' });
    await until(() => journal.filter((l) => l.startsWith('init')).length === 2);
    expect(journal.filter((l) => l.startsWith('init')).sort()).toEqual(['init /sup/a', 'init /sup/b']);
  });

  it('runs terminate once and is idempotent', async () => {
    const system = await startSystem();
    let terminated = 0;
    const T = defineActor<null, string>({ receive() {}, terminate: () => void terminated++ });
    system.spawn(T, { name: 't' });
    await system.terminateChild('/t');
    await system.terminateChild('/t');
    expect(terminated).toBe(1);
    expect(system.tree().map((n) => [n.path, n.status])).toEqual([['/t', 'stopped']]);
    expect(system.metrics().actors).toBe(0);
  });

  it('deleteChild refuses a running child and forgets a terminated one', async () => {
    const system = await startSystem();
    system.spawn(Counter, { name: 'c' });
    await expect(system.deleteChild('/c')).rejects.toSatisfy((e: unknown) => isGenesisError(e, 'CONFIG') && /terminateChild first/.test((e as Error).message));
    await system.terminateChild('/c');
    await system.deleteChild('/c');
    expect(system.tree()).toEqual([]);
    await expect(system.restartChild('/c')).rejects.toMatchObject({ code: 'ACTOR_STOPPED', path: '/c' });
    expect(system.spawn(Counter, { name: 'c' }).alive).toBe(true); // the name is free
  });

  it('a terminated child’s name gives way to a new spawn, and its supervisor’s restart starts it again', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const journal: string[] = [];
    await tree(system, journal);
    await system.terminateChild('/sup/b');
    expect(() => system.spawn(Counter, { name: 'b', parent: system.lookup('/sup')! })).not.toThrow(); // gives way…
    await system.terminateChild('/sup/b'); // …and is terminated again
    journal.length = 0;
    await system.restartChild('/sup'); // OTP: a restarted supervisor starts every child of its spec
    await until(() => journal.includes('init /sup/b'));
    expect(journal).toEqual(['terminate /sup/a', 'init /sup/a', 'init /sup/b']);
    expect(find(system.tree(), '/sup/b')).toMatchObject({ status: 'running' });
  });

  it('leaves pool workers to their pool, and validates paths', async () => {
    const system = await startSystem();
    await system.start(pool('p', Counter, { size: 2 }));
    const [worker] = find(system.tree(), '/p')!.children;
    await expect(system.terminateChild(worker!.path)).rejects.toBeInstanceOf(ConfigError);
    await expect(system.restartChild('')).rejects.toBeInstanceOf(ConfigError);
    await expect(system.terminateChild('/p//x')).rejects.toBeInstanceOf(ConfigError);
    await expect(system.deleteChild('/missing')).rejects.toBeInstanceOf(ActorStoppedError);
  });
});

describe('bus events', () => {
  it('publishes supervisor.escalated when a supervisor in a tree gives up, and actor.restarted for its restarts', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const journal: string[] = [];
    const listener = system.spawn(Listener, { name: 'l', args: { topics: ['supervisor.escalated', 'actor.restarted'] } });
    await system.start(
      supervisor('top', {
        strategy: 'one-for-one',
        children: [
          supervisor('inner', { strategy: 'one-for-one', intensity: { maxRestarts: 1, withinMs: 60_000 }, children: [child('c', Journaled, { args: { journal } })] }),
        ],
      }),
    );
    const crash = () => (system.lookup('/top/inner/c') as ActorRef<Msg>).tell({ type: 'crash' });
    const inits = () => journal.filter((l) => l.startsWith('init')).length;
    crash();
    await until(() => inits() === 2);
    crash();
    await until(() => inits() === 3); // inner gave up; top restarted it, and c with it
    const events = await received(listener, 3);
    expect(events).toContainEqual(['actor.restarted', { path: '/top/inner/c', restarts: 1 }]);
    expect(events).toContainEqual(['supervisor.escalated', { path: '/top/inner/c', supervisor: '/top/inner', decision: 'escalate' }]);
    expect(events).toContainEqual(['actor.restarted', { path: '/top/inner', restarts: 1 }]);
  });
});
