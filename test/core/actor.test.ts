import { describe, expect, it } from 'vitest';
import { ActorStoppedError, type ActorRef, ConfigError, type Context, defineActor, SystemStoppedError } from '../../src/index.js';
import { nextTurn, startSystem, until } from '../helpers.js';

type CounterMsg = { type: 'add'; n: number } | { type: 'get' } | { type: 'boom' };
const Counter = defineActor<number, CounterMsg, { start?: number }>({
  init: (args) => args?.start ?? 0,
  receive(n, msg, ctx) {
    if (msg.type === 'add') return n + msg.n;
    if (msg.type === 'boom') throw new Error('boom');
    ctx.reply(n);
  },
});

describe('defineActor', () => {
  it('rejects a definition without receive or receiveBatch', () => {
    expect(() => defineActor({} as never)).toThrow(ConfigError);
    expect(() => defineActor({} as never)).toThrow(/receive/);
  });

  it('rejects a handler that is not a function and a bad version', () => {
    expect(() => defineActor({ receive: 5 } as never)).toThrow(/receive: must be a function/);
    expect(() => defineActor({ receive() {}, version: 0 })).toThrow(/version/);
  });
});

describe('spawn, tell, ask', () => {
  it('handles told messages in order and answers an ask with the state', async () => {
    const system = await startSystem();
    const counter = system.spawn(Counter, { name: 'counter', args: { start: 10 } });
    for (let i = 1; i <= 100; i++) counter.tell({ type: 'add', n: i });
    expect(await counter.ask({ type: 'get' })).toBe(10 + 5050);
  });

  it("never runs the receiver inside the sender's call stack", async () => {
    const system = await startSystem();
    const log: string[] = [];
    const ref = system.spawn(defineActor({ receive: (_s, m: string) => void log.push(m) }));
    ref.tell('a');
    log.push('after tell');
    await nextTurn();
    expect(log).toEqual(['after tell', 'a']);
  });

  it('gives top-level actors /name paths and children /parent/child paths; lookup finds them', async () => {
    const system = await startSystem();
    let child: ActorRef | undefined;
    const Parent = defineActor({
      init: (_a, ctx) => {
        child = ctx.spawn(Counter, { name: 'strategy' });
      },
      receive() {},
    });
    const parent = system.spawn(Parent, { name: 'trading' });
    expect(parent.path).toBe('/trading');
    expect(child!.path).toBe('/trading/strategy');
    expect(system.lookup('/trading/strategy')).toBe(child);
    expect(system.lookup('/trading')).toBe(parent);
    expect(system.lookup('/nope')).toBeUndefined();
    const other = system.spawn(Counter, { parent });
    expect(other.path).toMatch(/^\/trading\/\$\d+$/);
  });

  it('refuses a duplicate name under one parent, naming it', async () => {
    const system = await startSystem();
    system.spawn(Counter, { name: 'x' });
    expect(() => system.spawn(Counter, { name: 'x' })).toThrow(ConfigError);
    expect(() => system.spawn(Counter, { name: 'x' })).toThrow(/'x' is already taken under \//);
  });

  it('refuses bad spawn options with a ConfigError naming the option', async () => {
    const system = await startSystem();
    expect(() => system.spawn(Counter, { mailbox: { capacity: -1 } })).toThrow(/mailbox\.capacity/);
    expect(() => system.spawn(Counter, { mailbox: { overflow: 'drop-all' as never } })).toThrow(/mailbox\.overflow/);
    expect(() => system.spawn(Counter, { mailbox: { batchSize: 0 } })).toThrow(/mailbox\.batchSize/);
    expect(() => system.spawn(Counter, { nmae: 'typo' } as never)).toThrow(/spawn options\.nmae/);
    expect(() => system.spawn({ receive() {} } as never)).toThrow(/not a behavior/);
    expect(() => system.spawn(Counter, { name: 'a/b' })).toThrow(ConfigError);
  });

  it('refuses priority 7 on tell and ask with a ConfigError', async () => {
    const system = await startSystem();
    const ref = system.spawn(Counter);
    expect(() => ref.tell({ type: 'add', n: 1 }, { priority: 7 })).toThrow(/priority/);
    await expect(ref.ask({ type: 'get' }, { priority: 7 })).rejects.toThrow(ConfigError);
    await expect(ref.ask({ type: 'get' }, { timeoutMs: -5 })).rejects.toThrow(/timeoutMs/);
  });

  it('runs an async init before the first message, holding the mailbox', async () => {
    const system = await startSystem();
    const Slow = defineActor<string[], string>({
      async init() {
        await new Promise((r) => setTimeout(r, 5));
        return ['init'];
      },
      receive(log, m, ctx) {
        log.push(m);
        if (m === 'get') ctx.reply([...log]);
      },
    });
    const ref = system.spawn(Slow);
    ref.tell('a');
    expect(await ref.ask('get')).toEqual(['init', 'a', 'get']);
  });

  it('holds the mailbox while an async handler runs: one message at a time', async () => {
    const system = await startSystem();
    let active = 0;
    let maxActive = 0;
    const done: number[] = [];
    const ref = system.spawn(
      defineActor<null, number>({
        async receive(_s, m) {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, 1));
          active--;
          done.push(m);
        },
      }),
    );
    for (let i = 0; i < 10; i++) ref.tell(i);
    await until(() => done.length === 10);
    expect(maxActive).toBe(1);
    expect(done).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps the state when receive returns nothing and replaces it when it returns a value', async () => {
    const system = await startSystem();
    const ref = system.spawn(
      defineActor<{ n: number }, 'keep' | 'replace' | 'get'>({
        init: () => ({ n: 1 }),
        receive(s, m, ctx) {
          if (m === 'replace') return { n: s.n + 1 };
          if (m === 'get') ctx.reply(s.n);
        },
      }),
    );
    ref.tell('keep');
    ref.tell('replace');
    ref.tell('keep');
    expect(await ref.ask('get')).toBe(2);
  });
});

describe('what a ref shows a router', () => {
  it('reads its load (messages waiting) and its breaker state (none until the first ask)', async () => {
    const system = await startSystem();
    const ref = system.spawn(Counter, { breaker: { failureThreshold: 1, resetTimeoutMs: 60_000 } });
    expect([ref.load, ref.breakerState]).toEqual([0, undefined]);
    ref.tell({ type: 'add', n: 1 });
    ref.tell({ type: 'add', n: 1 });
    expect(ref.load).toBe(2); // not handled yet: never in the sender's stack
    expect(await ref.ask({ type: 'get' })).toBe(2);
    expect([ref.load, ref.breakerState]).toEqual([0, 'closed']);
    await expect(ref.ask({ type: 'boom' })).rejects.toBeInstanceOf(ActorStoppedError);
    expect(ref.breakerState).toBe('open');
  });
});

describe('receiveBatch', () => {
  it('delivers consecutive tells of one priority in batches of at most batchSize', async () => {
    const system = await startSystem();
    const batches: number[][] = [];
    const ref = system.spawn(defineActor<null, number>({ receiveBatch: (_s, msgs) => void batches.push([...msgs]) }), { mailbox: { batchSize: 4 } });
    for (let i = 0; i < 10; i++) ref.tell(i);
    await until(() => batches.flat().length === 10);
    expect(batches).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
  });

  it('never mixes priorities in one batch and takes the more urgent first', async () => {
    const system = await startSystem();
    const batches: Array<Array<[number, number]>> = [];
    const ref = system.spawn(defineActor<null, [number, number]>({ receiveBatch: (_s, msgs) => void batches.push([...msgs]) }));
    ref.tell([2, 0]);
    ref.tell([4, 1], { priority: 4 });
    ref.tell([2, 2]);
    ref.tell([0, 3], { priority: 0 });
    ref.tell([4, 4], { priority: 4 });
    await until(() => batches.flat().length === 5);
    expect(batches).toEqual([
      [[0, 3]],
      [
        [2, 0],
        [2, 2],
      ],
      [
        [4, 1],
        [4, 4],
      ],
    ]);
  });

  it('delivers an ask alone, as a batch of one, answerable with ctx.reply', async () => {
    const system = await startSystem();
    const batches: unknown[][] = [];
    const ref = system.spawn(
      defineActor<number, string>({
        init: () => 0,
        receiveBatch(total, msgs, ctx) {
          batches.push([...msgs]);
          if (msgs[0] === 'get') ctx.reply(total);
          else return total + msgs.length;
        },
      }),
    );
    ref.tell('a');
    ref.tell('b');
    const answer = ref.ask('get');
    ref.tell('c');
    expect(await answer).toBe(2);
    await until(() => batches.flat().length === 4);
    expect(batches).toEqual([['a', 'b'], ['get'], ['c']]);
  });
});

describe('crashes', () => {
  it('stops a crashed temporary actor, dead-letters the poison message and the ones after it', async () => {
    const system = await startSystem();
    const ref = system.spawn(Counter, { name: 'fragile', restart: 'temporary' });
    ref.tell({ type: 'boom' });
    ref.tell({ type: 'add', n: 1 });
    await until(() => !ref.alive);
    expect(ref.tell({ type: 'add', n: 2 })).toBe(false);
    const letters = system.deadLetters.list();
    expect(letters.map((l) => [l.reason, l.message])).toEqual([
      ['crashed', { type: 'boom' }],
      ['stopped', { type: 'add', n: 1 }],
      ['stopped', { type: 'add', n: 2 }],
    ]);
    expect((letters[0]!.error as Error).message).toBe('boom');
    expect(system.lookup('/fragile')).toBeUndefined();
  });

  it('fails the ask whose handler crashed with ActorStoppedError carrying the cause', async () => {
    const system = await startSystem();
    const ref = system.spawn(
      defineActor<null, string>({
        async receive() {
          await Promise.resolve();
          throw new Error('async boom');
        },
      }),
    );
    const error = await ref.ask('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActorStoppedError);
    expect(((error as Error).cause as Error).message).toBe('async boom');
    await expect(ref.ask('y')).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('treats a throwing init as a crash: a temporary actor never runs', async () => {
    const system = await startSystem();
    const ref = system.spawn(
      defineActor({
        init() {
          throw new Error('bad init');
        },
        receive() {},
      }),
      { restart: 'temporary' },
    );
    await until(() => !ref.alive);
    expect(ref.tell('x')).toBe(false);
  });

  it('logs the crash with pino, bound to the actor path', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'error' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const system = await startSystem({ logger });
    const ref = system.spawn(Counter, { name: 'logged' });
    ref.tell({ type: 'boom' });
    await until(() => lines.length > 0);
    await nextTurn();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, path: '/logged', err: { message: 'boom' }, decision: 'restart' });
  });
});

describe('stop and shutdown', () => {
  it('stops children before their parent, in reverse start order, running terminate', async () => {
    const system = await startSystem();
    const order: string[] = [];
    const Leaf = defineActor({ receive() {}, terminate: (_s, _r, ctx) => void order.push(ctx.path) });
    const Parent = defineActor({
      init(_a, ctx: Context) {
        ctx.spawn(Leaf, { name: 'a' });
        ctx.spawn(Leaf, { name: 'b' });
        ctx.spawn(Leaf, { name: 'c' });
      },
      receive() {},
      terminate: (_s, _r, ctx) => void order.push(ctx.path),
    });
    const parent = system.spawn(Parent, { name: 'p' });
    await system.stop(parent);
    expect(order).toEqual(['/p/c', '/p/b', '/p/a', '/p']);
    expect(system.lookup('/p/a')).toBeUndefined();
  });

  it('lets the handler in flight finish before stopping', async () => {
    const system = await startSystem();
    // The handler ends when the test says so, not on a timer: no race with the stop.
    let release!: () => void;
    const handling: unknown[] = [];
    let finished = false;
    const ref = system.spawn(
      defineActor({
        async receive(_s, m) {
          handling.push(m);
          await new Promise<void>((resolve) => (release = resolve));
          finished = true;
        },
      }),
    );
    ref.tell('work');
    ref.tell('queued');
    await until(() => handling.length === 1);
    let stopped = false;
    const stop = system.stop(ref).then(() => (stopped = true));
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(stopped).toBe(false); // waiting for the handler
    release();
    await stop;
    expect(finished).toBe(true);
    expect(handling).toEqual(['work']);
    expect(system.deadLetters.list().map((l) => l.message)).toEqual(['queued']);
  });

  it('ctx.stop() stops a transient actor normally after the current message', async () => {
    const system = await startSystem();
    const reasons: unknown[] = [];
    const ref = system.spawn(
      defineActor({
        receive: (_s, _m, ctx) => ctx.stop(),
        terminate: (_s, reason) => void reasons.push(reason),
      }),
      { restart: 'transient' },
    );
    ref.tell('quit');
    ref.tell('late');
    await until(() => !ref.alive);
    expect(reasons).toEqual(['normal']);
    expect(system.deadLetters.counts()).toEqual({ stopped: 1 });
  });

  it("frees a stopped actor's name for a new actor", async () => {
    const system = await startSystem();
    const first = system.spawn(Counter, { name: 'reuse' });
    await system.stop(first);
    const second = system.spawn(Counter, { name: 'reuse' });
    expect(system.lookup('/reuse')).toBe(second);
    expect(first.tell({ type: 'add', n: 1 })).toBe(false);
  });

  it('shutdown rejects pending asks, then spawn throws, tell dead-letters and ask rejects', async () => {
    const system = await startSystem();
    const Sink = defineActor({
      receive(_s, _m, ctx) {
        ctx.deferReply(); // never answered
      },
    });
    const ref = system.spawn(Sink);
    const pending = ref.ask('never');
    await nextTurn();
    await system.shutdown();
    await expect(pending).rejects.toBeInstanceOf(ActorStoppedError);
    expect(() => system.spawn(Sink)).toThrow(SystemStoppedError);
    expect(ref.tell('x')).toBe(false);
    await expect(ref.ask('x')).rejects.toBeInstanceOf(SystemStoppedError);
    expect(system.metrics().actors).toBe(0);
  });

  it('shuts top-level actors down in reverse start order', async () => {
    const system = await startSystem();
    const order: string[] = [];
    const Leaf = defineActor({ receive() {}, terminate: (_s, _r, ctx) => void order.push(ctx.name) });
    for (const name of ['feed', 'strategy', 'logger']) system.spawn(Leaf, { name });
    await system.shutdown();
    expect(order).toEqual(['logger', 'strategy', 'feed']);
  });
});

describe('ActorSystem.start options', () => {
  it('refuses unknown and bad options with a ConfigError naming them', async () => {
    await expect(startSystem({ askTimeoutMs: 0 })).rejects.toThrow(/askTimeoutMs/);
    await expect(startSystem({ deadLetterCapacity: 1.5 })).rejects.toThrow(/deadLetterCapacity/);
    await expect(startSystem({ colour: 'red' } as never)).rejects.toThrow(/colour/);
  });
});

describe('printing', () => {
  it('prints a system as ActorSystem(name, mode, actors), not its internals', async () => {
    const { inspect } = await import('node:util');
    const system = await startSystem({ name: 'desk' });
    system.spawn(defineActor({ receive() {} }), { name: 'a' });
    expect(inspect(system)).toBe('ActorSystem(desk, normal, 1 actor)');
    expect(`${system}`).toBe('ActorSystem(desk, normal, 1 actor)');
    expect(inspect({ system })).toBe('{ system: ActorSystem(desk, normal, 1 actor) }');
  });
});
