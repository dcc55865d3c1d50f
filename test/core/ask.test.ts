import pino from 'pino';
import { describe, expect, it } from 'vitest';
import {
  ActorStoppedError,
  ConfigError,
  pool,
  type ActorRef,
  CircuitOpenError,
  DeadlockError,
  defineActor,
  NoReplyError,
  SimulatedClock,
  TimeoutError,
} from '../../src/index.js';
import { nextTurn, startSystem, until } from '../helpers.js';

const Echo = defineActor<null, unknown>({ receive: (_s, m, ctx) => void ctx.reply(m) });
const Silent = defineActor<null, unknown>({ receive() {} });
const Deferring = defineActor<null, unknown>({ receive: (_s, _m, ctx) => void ctx.deferReply() });

describe('ask', () => {
  it('resolves with the value passed to ctx.reply', async () => {
    const system = await startSystem();
    const echo = system.spawn(Echo);
    expect(await echo.ask({ hello: 'world' })).toEqual({ hello: 'world' });
  });

  it('fails with NoReplyError when the handler ends without replying, sync or async', async () => {
    const system = await startSystem();
    await expect(system.spawn(Silent).ask('x')).rejects.toBeInstanceOf(NoReplyError);
    const asyncSilent = system.spawn(
      defineActor({
        receive: async () => {
          await Promise.resolve();
        },
      }),
    );
    const error = await asyncSilent.ask('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoReplyError);
    expect((error as NoReplyError).code).toBe('NO_REPLY');
    expect(asyncSilent.alive).toBe(true);
  });

  it('answers later through ctx.deferReply()', async () => {
    const system = await startSystem();
    const replies: Array<(v: unknown) => boolean> = [];
    const ref = system.spawn(defineActor({ receive: (_s, _m, ctx) => void replies.push(ctx.deferReply()) }));
    const answer = ref.ask('q');
    await nextTurn();
    expect(replies).toHaveLength(1);
    expect(replies[0]!(42)).toBe(true);
    expect(replies[0]!(43)).toBe(false); // an ask ends once
    expect(await answer).toBe(42);
  });

  it('times out with TimeoutError on the system clock, without a real wait', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const ref = system.spawn(Deferring, { name: 'slow' });
    const answer = ref.ask('q', { timeoutMs: 250 });
    const settled = answer.catch((e: unknown) => e);
    await nextTurn();
    clock.advance(249);
    await nextTurn();
    let done = false;
    void settled.then(() => (done = true));
    await nextTurn();
    expect(done).toBe(false);
    clock.advance(1);
    const error = await settled;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe('ask to /slow timed out after 250 ms');
    expect(system.metrics().asksPending).toBe(0);
  });

  it('uses one clock timer for many pending asks, not one each', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const ref = system.spawn(Deferring, { breaker: false }); // an open breaker would arm its own reset timer
    const asks = Array.from({ length: 1000 }, () => ref.ask('q', { timeoutMs: 100 }).catch((e: unknown) => e));
    expect(clock.pendingTimers).toBe(1);
    clock.advance(100);
    const results = await Promise.all(asks);
    expect(results.every((e) => e instanceof TimeoutError)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('times out asks with different timeouts each at its own deadline', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const ref = system.spawn(Deferring);
    const ended: number[] = [];
    const asks = [300, 100, 200].map((ms) => ref.ask('q', { timeoutMs: ms }).catch(() => ended.push(ms)));
    for (const step of [100, 100, 100]) {
      clock.advance(step);
      await nextTurn();
    }
    await Promise.all(asks);
    expect(ended).toEqual([100, 200, 300]);
  });

  it('does not start an ask whose asker timed out while it was queued: it is dead-lettered as expired', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const seen: unknown[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ref = system.spawn(
      defineActor<null, string>({
        async receive(_s, m, ctx) {
          seen.push(m);
          if (m === 'block') await gate;
          ctx.reply('ok');
        },
      }),
    );
    ref.tell('block');
    const late = ref.ask('late', { timeoutMs: 10 }).catch((e: unknown) => e);
    await nextTurn();
    clock.advance(10);
    expect(await late).toBeInstanceOf(TimeoutError);
    release();
    await nextTurn();
    await nextTurn();
    expect(seen).toEqual(['block']); // no work for a caller that left…
    expect(system.deadLetters.list().map((d) => [d.message, d.reason])).toEqual([['late', 'expired']]); // …and nothing lost
  });

  it('rejects with the abort reason when its AbortSignal fires', async () => {
    const system = await startSystem();
    const ref = system.spawn(Deferring);
    const controller = new AbortController();
    const answer = ref.ask('q', { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(answer).rejects.toThrow('caller gave up');
    await expect(ref.ask('q', { signal: AbortSignal.abort() })).rejects.toThrow();
  });

  it('rejects asks still waiting on a deferred reply when the actor stops', async () => {
    const system = await startSystem();
    const ref = system.spawn(Deferring);
    const answer = ref.ask('q');
    await nextTurn();
    await system.stop(ref);
    await expect(answer).rejects.toBeInstanceOf(ActorStoppedError);
  });

  it('fails at once with ActorStoppedError for a stopped actor', async () => {
    const system = await startSystem();
    const ref = system.spawn(Echo);
    await system.stop(ref);
    await expect(ref.ask('x')).rejects.toBeInstanceOf(ActorStoppedError);
    expect(system.deadLetters.counts()).toEqual({ stopped: 1 });
  });
});

describe('deadlock detection', () => {
  it('fails an ask to oneself at once with DeadlockError', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const ref = system.spawn(
      defineActor<null, string>({
        async receive(_s, m, ctx) {
          if (m === 'self') {
            const e = await ctx.ask(ctx.self, 'inner').catch((err: unknown) => err);
            ctx.reply(e);
          }
        },
      }),
      { name: 'narcissus' },
    );
    const error = await ref.ask('self');
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).cycle).toEqual(['/narcissus', '/narcissus']);
    expect(clock.now()).toBe(0); // no time had to pass
  });

  /** Each actor forwards an ask to the next; the last asks the first back. */
  function ring(system: Awaited<ReturnType<typeof startSystem>>, size: number): ActorRef<string>[] {
    const refs: ActorRef<string>[] = [];
    const Link = defineActor<number, string, { index: number }>({
      init: (args) => args.index,
      async receive(index, m, ctx) {
        const next = refs[(index + 1) % size]!;
        try {
          ctx.reply(await ctx.ask(next, m, { timeoutMs: 60_000 }));
        } catch (error) {
          ctx.reply(error);
        }
      },
    });
    for (let i = 0; i < size; i++) refs.push(system.spawn(Link, { name: `n${i}`, args: { index: i } }));
    return refs;
  }

  it('detects a 2-cycle (A asks B while B, in its handler, asks A) without waiting', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const [a] = ring(system, 2);
    const result = await a!.ask('go', { timeoutMs: 60_000 });
    expect(result).toBeInstanceOf(DeadlockError);
    expect((result as DeadlockError).cycle).toEqual(['/n1', '/n0', '/n1']);
    expect(clock.now()).toBe(0);
  });

  it('detects a 3-cycle without waiting', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const [a] = ring(system, 3);
    const result = await a!.ask('go', { timeoutMs: 60_000 });
    expect(result).toBeInstanceOf(DeadlockError);
    expect((result as DeadlockError).cycle).toEqual(['/n2', '/n0', '/n1', '/n2']);
  });

  it('does not report a deadlock for a chain that ends (A → B → C)', async () => {
    const system = await startSystem();
    const c = system.spawn(Echo, { name: 'c' });
    const Forward = defineActor<ActorRef, string, { to: ActorRef }>({
      init: (args) => args.to,
      async receive(to, m, ctx) {
        ctx.reply(`${ctx.name}>${await ctx.ask(to, m)}`);
      },
    });
    const b = system.spawn(Forward, { name: 'b', args: { to: c } });
    const a = system.spawn(Forward, { name: 'a', args: { to: b } });
    expect(await a.ask('hi')).toBe('a>b>hi');
  });

  it('allows asking back an actor that is no longer inside the handler that asked', async () => {
    const system = await startSystem();
    let peer!: ActorRef;
    const A = defineActor<null, string>({
      receive(_s, m, ctx) {
        if (m === 'start')
          void ctx.ask(peer, 'ping').catch(() => {}); // fire and forget: A is free
        else ctx.reply('pong from A');
      },
    });
    const a = system.spawn(A, { name: 'a' });
    peer = system.spawn(
      defineActor<null, string>({
        async receive(_s, _m, ctx) {
          ctx.reply(await ctx.ask(a, 'back'));
        },
      }),
      { name: 'b' },
    );
    a.tell('start');
    expect(await peer.ask('direct')).toBe('pong from A');
  });
});

describe('the breaker of an asked actor', () => {
  const Flaky = defineActor<{ fail: boolean }, 'ok' | 'fail' | 'heal'>({
    init: () => ({ fail: false }),
    receive(state, msg, ctx) {
      if (msg === 'heal') return { fail: false };
      if (msg === 'fail' || state.fail) {
        ctx.deferReply(); // never answered: the ask times out
        return { fail: true };
      }
      ctx.reply('fine');
    },
  });

  it('opens after failureThreshold timeouts, then refuses at once with CircuitOpenError', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const events: unknown[] = [];
    const Listener = defineActor({ init: (_a, ctx) => ctx.subscribe('breaker.*'), receive() {}, onEvent: (_s, e) => void events.push(e) });
    system.spawn(Listener);
    const ref = system.spawn(Flaky, { name: 'flaky', breaker: { failureThreshold: 3, resetTimeoutMs: 1000, resetJitter: 0 } });
    expect(await ref.ask('ok')).toBe('fine');
    const failing = [ref.ask('fail', { timeoutMs: 100 }), ref.ask('ok', { timeoutMs: 100 }), ref.ask('ok', { timeoutMs: 100 })].map((p) => p.catch((e: unknown) => e));
    clock.advance(100);
    expect((await Promise.all(failing)).every((e) => e instanceof TimeoutError)).toBe(true);
    const refused = await ref.ask('ok').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).code).toBe('CIRCUIT_OPEN');
    expect(system.tree().find((n) => n.name === 'flaky')!.breaker).toBe('open');
    await until(() => events.length > 0);
    expect(events).toEqual([{ topic: 'breaker.open', data: { path: '/flaky', from: 'closed', to: 'open' } }]);
    // after resetTimeoutMs a probe goes through; a success closes it again
    ref.tell('heal');
    clock.advance(1000);
    expect(await ref.ask('ok')).toBe('fine');
    expect(system.tree().find((n) => n.name === 'flaky')!.breaker).toBe('closed');
  });

  it("answers from the fallback while an essential actor's breaker is open", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const ref = system.spawn(Flaky, { essential: true, breaker: { failureThreshold: 1, fallback: (msg: unknown) => `cached answer to ${String(msg)}` } });
    // It never fails its caller outright: a timeout is answered from the fallback too …
    const failed = ref.ask('fail', { timeoutMs: 50 }).catch((e: unknown) => e);
    clock.advance(50);
    expect(await failed).toBe('cached answer to fail');
    // … and counted: the breaker is open, later asks are answered at once without reaching it.
    expect(system.tree()[0]!.breaker).toBe('open');
    expect(await ref.ask('ok')).toBe('cached answer to ok');
  });

  it('answers from the fallback when an essential actor crashes handling the ask, and restarts it', async () => {
    const system = await startSystem();
    const ref = system.spawn(
      defineActor<null, string>({
        receive(_s, m, ctx) {
          if (m === 'crash') throw new Error('boom');
          ctx.reply(`fresh ${m}`);
        },
      }),
      { essential: true, breaker: { fallback: (msg: unknown) => `cached ${String(msg)}` } },
    );
    expect(await ref.ask('crash')).toBe('cached crash');
    expect(await ref.ask('x')).toBe('fresh x');
    expect(system.tree()[0]!.restarts).toBe(1);
  });

  it("does not blame a forwarder for a timeout that happened downstream: the slow target's breaker counts it", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    const slow = system.spawn(Deferring, { name: 'slow', breaker: { failureThreshold: 2 } });
    const Forwarder = defineActor<null, unknown>({
      receive(_s, m, ctx) {
        const reply = ctx.deferReply();
        ctx.ask(slow, m).then(reply, reply.fail);
      },
    });
    const ingress = system.spawn(Forwarder, { name: 'ingress', breaker: { failureThreshold: 2 } });
    const asks = [1, 2, 3].map((i) => ingress.ask(i, { timeoutMs: 50 }).catch((e: unknown) => e));
    await nextTurn();
    clock.advance(50);
    expect((await Promise.all(asks)).every((e) => e instanceof TimeoutError)).toBe(true);
    const breakers = Object.fromEntries(system.tree().map((n) => [n.name, n.breaker]));
    expect(breakers).toEqual({ slow: 'open', ingress: 'closed' });
  });

  it('does not blame a forwarder for a downstream crash it relays: the error names the actor that crashed', async () => {
    const system = await startSystem({ modes: false });
    const broken = system.spawn(
      defineActor<null, unknown>({
        receive: () => {
          throw new Error('down');
        },
      }),
      { name: 'broken' },
    );
    const Relay = defineActor<null, unknown>({
      receive(_s, m, ctx) {
        const reply = ctx.deferReply();
        ctx.ask(broken, m).then(reply, reply.fail);
      },
    });
    const relay = system.spawn(Relay, { name: 'relay', breaker: { failureThreshold: 2 } });
    for (let i = 0; i < 3; i++) await expect(relay.ask(i)).rejects.toMatchObject({ code: 'ACTOR_STOPPED', path: '/broken', crashed: true });
    expect(system.tree().find((n) => n.name === 'relay')!.breaker).toBe('closed');
  });

  it('counts an error an actor answers with through a deferred reply (its I/O failing) against its breaker', async () => {
    const system = await startSystem({ modes: false });
    const Venue = defineActor<null, unknown>({
      receive(_s, _m, ctx) {
        const reply = ctx.deferReply();
        Promise.reject(new Error('connection reset')).catch(reply.fail);
      },
    });
    const venue = system.spawn(Venue, { name: 'venue', breaker: { failureThreshold: 2 } });
    for (let i = 0; i < 2; i++) await expect(venue.ask(i)).rejects.toThrow('connection reset');
    await expect(venue.ask(3)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('lets the work for a deferred reply go on asking after its actor restarted', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock, modes: false });
    const echo = system.spawn(Echo, { name: 'echo' });
    const Router = defineActor<null, string>({
      receive(_s, m, ctx) {
        if (m === 'crash') throw new Error('boom');
        const reply = ctx.deferReply();
        // the work goes on on a timer, with the ctx of the incarnation that deferred
        clock.setTimeout(() => ctx.ask(echo, `routed ${m}`).then(reply, reply.fail), 100);
      },
    });
    const router = system.spawn(Router, { name: 'router' });
    const answer = router.ask('order', { timeoutMs: 1000 });
    await nextTurn();
    router.tell('crash');
    await nextTurn();
    clock.advance(100);
    expect(await answer).toBe('routed order');
  });

  it('does not count a caller giving up against the target', async () => {
    const system = await startSystem();
    const ref = system.spawn(Deferring, { breaker: { failureThreshold: 1 } });
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const answer = ref.ask('q', { signal: controller.signal }).catch(() => undefined);
      controller.abort();
      await answer;
    }
    expect(system.tree()[0]!.breaker).toBe('closed');
  });

  it('can be turned off per actor', async () => {
    const system = await startSystem();
    const ref = system.spawn(Echo, { breaker: false });
    expect(await ref.ask(1)).toBe(1);
    expect(system.tree()[0]!.breaker).toBeUndefined();
  });
});

describe('deadlock detection across handlers', () => {
  it('still sees a cycle after an earlier, unrelated ask to the same actor ended', async () => {
    const system = await startSystem();
    let a!: ActorRef<string>;
    let seenByB: unknown;
    const B = defineActor<null, string>({
      async receive(_s, m, ctx) {
        if (m === 'x') {
          const reply = ctx.deferReply();
          setTimeout(() => reply('x'), 10);
          return;
        }
        await new Promise((r) => setTimeout(r, 30)); // 'x' is answered meanwhile
        seenByB = await ctx.ask(a, 'ping', { timeoutMs: 5000 }).catch((e: unknown) => e);
        ctx.reply('y');
      },
    });
    const b = system.spawn(B, { name: 'b' });
    a = system.spawn(
      defineActor<null, string>({
        async receive(_s, m, ctx) {
          if (m === 'first') void ctx.ask(b, 'x').catch(() => {}); // fire and forget
          if (m === 'second') await ctx.ask(b, 'y', { timeoutMs: 5000 });
        },
      }),
      { name: 'a' },
    );
    a.tell('first');
    a.tell('second');
    await until(() => seenByB !== undefined);
    expect(seenByB).toBeInstanceOf(DeadlockError);
  });
});

describe("asks across an actor's life", () => {
  it('handles an ask whose caller gave up like any other: deferReply and reply answer no one', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ref = system.spawn(
      defineActor<null, string>({
        async receive(_s, m, ctx) {
          if (m === 'block') await gate;
          else ctx.deferReply();
        },
      }),
    );
    ref.tell('block');
    const late = ref.ask('late', { timeoutMs: 10 }).catch((e: unknown) => e);
    await nextTurn();
    clock.advance(10);
    expect(await late).toBeInstanceOf(TimeoutError);
    release();
    await until(() => system.metrics().messagesHandled >= 2);
    expect(system.tree()[0]).toMatchObject({ status: 'running', restarts: 0 });
  });

  it('keeps the replies an incarnation deferred across a crash and restart: the work for them still answers', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const ref = system.spawn(
      defineActor<null, string>({
        receive(_s, m, ctx) {
          if (m === 'boom') throw new Error('boom');
          const reply = ctx.deferReply();
          clock.setTimeout(() => reply(`done ${m}`), 100); // work in flight, outside the handler
        },
      }),
    );
    const pending = ref.ask('order', { timeoutMs: 1000 });
    await nextTurn();
    ref.tell('boom');
    await nextTurn();
    expect(system.tree()[0]!.restarts).toBe(1);
    clock.advance(100);
    expect(await pending).toBe('done order'); // not an orphan: its caller hears of the work done
  });

  it('fails the replies an incarnation deferred when the actor stops for good', async () => {
    const system = await startSystem();
    const ref = system.spawn(defineActor<null, string>({ receive: (_s, _m, ctx) => void ctx.deferReply() }));
    const pending = ref.ask('defer', { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await nextTurn();
    await system.stop(ref);
    const error = await pending;
    expect(error).toBeInstanceOf(ActorStoppedError);
    expect((error as Error).message).toMatch(/stopped before replying/);
  });
});

/** Answers 'back' itself; anything else it asks `via` about, inside its handler, and replies with that. */
function askingVia(via: ActorRef) {
  return defineActor<null, unknown>({
    async receive(_s, m, ctx) {
      if (m === 'back') return void ctx.reply('back');
      ctx.reply(await ctx.ask(via, 'via'));
    },
  });
}

describe('deadlock detection across awaits, forwarders and pools', () => {
  type Msg = { type: 'go'; peer?: ActorRef<Msg> } | { type: 'back' } | { type: 'self' };

  /** Asks with ref.ask after an await inside its async handler (no synchronous caller). */
  const AfterAwait = defineActor<null, Msg>({
    async receive(_s, msg, ctx) {
      await Promise.resolve();
      if (msg.type === 'self') {
        ctx.reply(await ctx.self.ask({ type: 'back' }, { timeoutMs: 60_000 }).catch((e: unknown) => e));
      } else if (msg.type === 'go') {
        ctx.reply(await msg.peer!.ask({ type: 'go' }, { timeoutMs: 60_000 }).catch((e: unknown) => e));
      } else ctx.reply('back');
    },
  });

  it('fails a self-ask made with ref.ask after an await at once with DeadlockError', async () => {
    const system = await startSystem({ clock: new SimulatedClock() }); // a timeout would never come
    const a = system.spawn(AfterAwait);
    expect(await a.ask({ type: 'self' })).toBeInstanceOf(DeadlockError);
  });

  it('fails a 2-cycle made with ref.ask after an await at once with DeadlockError', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const b = system.spawn(AfterAwait, { name: 'b' });
    const A = defineActor<null, Msg>({
      async receive(_s, msg, ctx) {
        await Promise.resolve();
        if (msg.type === 'go') ctx.reply(await b.ask({ type: 'go', peer: ctx.self }, { timeoutMs: 60_000 }));
        else ctx.reply('never');
      },
    });
    const a = system.spawn(A, { name: 'a' });
    // b, asked by a, asks a back after an await: that ask closes the cycle and fails at once
    const error = await a.ask({ type: 'go' });
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).cycle).toEqual(['/b', '/a', '/b']);
  });

  it('fails a cycle through a deferReply forwarder at once with DeadlockError', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const refs: { a?: ActorRef; worker?: ActorRef } = {};
    const Worker = defineActor<null, unknown>({
      receive(_s, _m, ctx) {
        const reply = ctx.deferReply();
        ctx.ask(refs.a!, 'back').then(reply, reply); // the error comes back as the answer
      },
    });
    const Forwarder = defineActor<null, unknown>({
      receive(_s, m, ctx) {
        const reply = ctx.deferReply(); // the forwarder's handler ends: it holds nothing itself
        ctx.ask(refs.worker!, m).then(reply, reply.fail);
      },
    });
    refs.worker = system.spawn(Worker, { name: 'worker' });
    const forwarder = system.spawn(Forwarder, { name: 'forwarder' });
    refs.a = system.spawn(askingVia(forwarder), { name: 'a' });
    const error = await refs.a.ask('go');
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).cycle).toEqual(['/worker', '/a', '/worker']);
  });

  it('fails a cycle through a pool at once with DeadlockError', async () => {
    const system = await startSystem({ clock: new SimulatedClock() });
    const refs: { a?: ActorRef } = {};
    const Worker = defineActor<null, unknown>({
      async receive(_s, _m, ctx) {
        ctx.reply(await ctx.ask(refs.a!, 'back').catch((e: unknown) => e));
      },
    });
    const workers = await system.start(pool('workers', Worker, { size: 2 }));
    refs.a = system.spawn(askingVia(workers), { name: 'a' });
    expect(await refs.a.ask('go')).toBeInstanceOf(DeadlockError);
  });

  it('does not report a deadlock for an ask after an await to an actor that is free', async () => {
    const system = await startSystem();
    const b = system.spawn(Echo);
    const A = defineActor<null, unknown>({
      async receive(_s, m, ctx) {
        await Promise.resolve();
        ctx.reply(await b.ask(m));
      },
    });
    expect(await system.spawn(A).ask('fine')).toBe('fine');
  });
});

describe('breaker accounting of asks', () => {
  it('never counts a caller giving up against the target, whatever the abort reason', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const target = system.spawn(Silent, { breaker: { failureThreshold: 2 } });
    for (let i = 0; i < 5; i++) {
      const controller = new AbortController();
      const asked = target.ask('slow', { signal: controller.signal });
      controller.abort(new TimeoutError('/caller', 100)); // e.g. resilient()'s own timeout
      await expect(asked).rejects.toBeInstanceOf(TimeoutError);
    }
    expect(system.tree()[0]!.breaker).toBe('closed');
  });

  it('counts a crash by throw undefined or Promise.reject() against the breaker, reported as a crash', async () => {
    const system = await startSystem();
    const Throwing = defineActor<null, string>({
      receive(_s, m) {
        if (m === 'throw') throw undefined;
        return Promise.reject();
      },
    });
    const target = system.spawn(Throwing, { breaker: { failureThreshold: 2 } });
    for (const m of ['throw', 'reject']) {
      const error = await target.ask(m).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ActorStoppedError);
      expect((error as ActorStoppedError).crashed).toBe(true);
      expect((error as ActorStoppedError).cause).toBeUndefined();
      await until(() => system.tree()[0]!.status === 'running');
    }
    expect(system.tree()[0]!.breaker).toBe('open');
    const stopped = system.spawn(Echo);
    await system.stop(stopped);
    expect(((await stopped.ask('x').catch((e: unknown) => e)) as ActorStoppedError).crashed).toBe(false);
  });

  it("rejects, never throws, when an essential breaker's fallback throws", async () => {
    const system = await startSystem();
    const target = system.spawn(Deferring, {
      essential: true,
      breaker: {
        failureThreshold: 1,
        fallback: () => {
          throw new Error('no fallback today');
        },
      },
    });
    await expect(target.ask('x', { timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError); // opens it
    let asked: Promise<unknown> | undefined;
    expect(() => (asked = target.ask('y'))).not.toThrow();
    await expect(asked).rejects.toThrow('no fallback today');
  });
});

describe('handler results', () => {
  const hostile = () => ({
    // biome-ignore lint/suspicious/noThenProperty: a hostile thenable is the point of the test
    then() {
      throw new Error('then exploded');
    },
  });

  it('treats a returned thenable whose then throws as a crash, in a handler and in init', async () => {
    const system = await startSystem();
    let inits = 0;
    const Hostile = defineActor<null, string>({
      init: () => (++inits === 1 ? (hostile() as never) : null),
      receive(_s, m, ctx) {
        if (m === 'hostile') return hostile() as never;
        ctx.reply(m);
      },
    });
    const ref = system.spawn(Hostile);
    await until(() => inits === 2); // the hostile init crashed, the restart started it
    const error = await ref.ask('hostile').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActorStoppedError);
    expect(((error as ActorStoppedError).cause as Error).message).toBe('then exploded');
    expect(await ref.ask('still here')).toBe('still here');
    await system.shutdown(); // resolves: nothing is wedged
  });
});

describe('bad input to ask, tell and spawn', () => {
  it('rejects an ask whose signal is not an AbortSignal with a ConfigError, registering nothing', async () => {
    const system = await startSystem();
    const ref = system.spawn(Echo);
    let asked: Promise<unknown> | undefined;
    expect(() => (asked = ref.ask('x', { signal: {} as AbortSignal }))).not.toThrow();
    await expect(asked).rejects.toBeInstanceOf(ConfigError);
    expect(system.metrics().asksPending).toBe(0);
  });

  it('refuses null and unknown keys in options with a ConfigError naming the option', async () => {
    const system = await startSystem();
    const ref = system.spawn(Echo);
    expect(() => system.spawn(Echo, null as never)).toThrow(ConfigError);
    expect(() => ref.tell('x', null as never)).toThrow(ConfigError);
    expect(() => ref.tell('x', { prio: 1 } as never)).toThrow(/tell options\.prio/);
    await expect(ref.ask('x', null as never)).rejects.toBeInstanceOf(ConfigError);
    await expect(ref.ask('x', { timeout: 5 } as never)).rejects.toThrow(/ask options\.timeout/);
    expect(() => system.unsubscribe('x' as never, 't')).toThrow(ConfigError);
    await expect(startSystem({ modes: { escalateAfter: 3 } as never })).rejects.toThrow(/modes\.escalateAfter/);
    expect(await ref.ask('still fine')).toBe('still fine');
  });
});

describe('faults around handlers (review)', () => {
  it('treats a returned object that only inherits Promise.prototype as a crash, leaving nothing wedged', async () => {
    const system = await startSystem();
    const Fake = defineActor<null, 'fake' | 'ping'>({
      receive(_s, m, ctx) {
        if (m === 'ping') return void ctx.reply('pong');
        return Object.create(Promise.prototype) as never;
      },
    });
    const a = system.spawn(Fake, { name: 'a' });
    const error = await a.ask('fake').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ActorStoppedError);
    expect((error as ActorStoppedError).crashed).toBe(true);
    await until(() => system.tree()[0]!.status === 'running');
    expect(await a.ask('ping')).toBe('pong');
    await system.shutdown(); // resolves
  });

  it('restarts an actor that threw a value whose getters throw, even when crash reports are logged', async () => {
    const system = await startSystem({ logger: pino({ level: 'info' }, { write() {} }) });
    const Hostile = defineActor<null, 'crash' | 'ping'>({
      receive(_s, m, ctx) {
        if (m === 'crash') {
          throw {
            get message(): string {
              throw new Error('hostile getter');
            },
          };
        }
        ctx.reply('pong');
      },
    });
    const bad = system.spawn(Hostile, { name: 'bad' });
    bad.tell('crash');
    await until(() => system.tree()[0]!.restarts === 1 && system.tree()[0]!.status === 'running');
    expect(await bad.ask('ping')).toBe('pong');
  });

  it('rejects, never throws, a ctx.ask given something that is not a ref', async () => {
    const system = await startSystem();
    const Asker = defineActor<null, unknown>({
      receive(_s, _m, ctx) {
        let thrown: unknown = null;
        let asked: Promise<unknown> | null = null;
        try {
          asked = ctx.ask(undefined as never, 'x');
        } catch (error) {
          thrown = error;
        }
        const reply = ctx.deferReply();
        void asked!.catch((e: unknown) => reply({ thrown, rejected: e }));
      },
    });
    const outcome = (await system.spawn(Asker).ask('go')) as { thrown: unknown; rejected: unknown };
    expect(outcome.thrown).toBeNull();
    expect(outcome.rejected).toBeInstanceOf(ConfigError);
  });

  it("does not charge another actor's ask to a busy async handler that merely queued it", async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const refs: { a?: ActorRef; b?: ActorRef } = {};
    let out: unknown;
    refs.b = system.spawn(
      defineActor<null, unknown>({
        receive() {
          // a promise chain: its continuation runs later, from the scheduler's drain
          return Promise.resolve()
            .then(() => refs.a!.ask('hello', { timeoutMs: 1000 }))
            .then(
              (v) => void (out = v),
              (e: unknown) => void (out = e),
            ) as never;
        },
      }),
    );
    refs.a = system.spawn(
      defineActor<null, unknown>({
        async receive(_s, m, ctx) {
          if (m === 'hello') return void ctx.reply('hi');
          await null;
          refs.b!.tell('work'); // queued from inside A's tracked run
          await new Promise<void>((resolve) => clock.setTimeout(resolve, 50));
        },
      }),
    );
    refs.a.tell('go');
    for (let i = 0; i < 10; i++) await nextTurn();
    clock.advance(50);
    await until(() => out !== undefined);
    expect(out).toBe('hi');
  });

  it('does not charge an ask from a timer to an unrelated async handler in flight', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    let answer: unknown;
    const B = defineActor<null, { t: 'status'; a: ActorRef }>({
      receive(_s, msg, ctx) {
        const reply = ctx.deferReply();
        ctx.ask(msg.a, 'config').then(reply, reply);
      },
    });
    const b = system.spawn(B);
    const A = defineActor<null, string>({
      async receive(_s, m, ctx) {
        if (m === 'config') return void ctx.reply('cfg');
        if (m === 'start') {
          clock.setTimeout(() => {
            ctx.ask(b, { t: 'status', a: ctx.self }).then(
              (v) => (answer = v),
              (e: unknown) => (answer = e),
            );
          }, 10);
          return;
        }
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 50)); // 'slow', unrelated
      },
    });
    const a = system.spawn(A);
    a.tell('start');
    a.tell('slow');
    for (let t = 0; t < 60; t += 5) {
      for (let i = 0; i < 3; i++) await nextTurn();
      clock.advance(5);
    }
    await until(() => answer !== undefined);
    expect(answer).toBe('cfg');
  });
});

describe('deadlines and cancellation', () => {
  /** Holds every ask (deferred), recording what its handler sees of the caller. */
  function watcher(seen: { signal?: AbortSignal; deadline?: number }[]) {
    return defineActor<null, unknown>({
      receive(_s, _m, ctx) {
        seen.push({ signal: ctx.signal, deadline: ctx.deadline });
        ctx.deferReply();
      },
    });
  }

  it("aborts ctx.signal when the asker's deadline passes; ctx.deadline says when", async () => {
    const clock = new SimulatedClock(1000);
    const system = await startSystem({ clock });
    const seen: { signal?: AbortSignal; deadline?: number }[] = [];
    const ref = system.spawn(watcher(seen));
    const asked = ref.ask('x', { timeoutMs: 50 }).catch((e: unknown) => e);
    await nextTurn();
    expect(seen[0]!.deadline).toBe(1050);
    expect(seen[0]!.signal!.aborted).toBe(false);
    clock.advance(50);
    expect(await asked).toBeInstanceOf(TimeoutError);
    expect(seen[0]!.signal!.aborted).toBe(true);
    expect(seen[0]!.signal!.reason).toBeInstanceOf(TimeoutError);
  });

  it("aborts ctx.signal when the caller gives up, with the caller's reason", async () => {
    const system = await startSystem();
    const seen: { signal?: AbortSignal }[] = [];
    const ref = system.spawn(watcher(seen));
    const controller = new AbortController();
    const asked = ref.ask('x', { signal: controller.signal }).catch((e: unknown) => e);
    await nextTurn();
    controller.abort(new Error('not needed any more'));
    expect(((await asked) as Error).message).toBe('not needed any more');
    expect(seen[0]!.signal!.aborted).toBe(true);
    expect((seen[0]!.signal!.reason as Error).message).toBe('not needed any more');
  });

  it('has no signal and no deadline for a tell', async () => {
    const system = await startSystem();
    const seen: unknown[] = [];
    const ref = system.spawn(defineActor<null, unknown>({ receive: (_s, _m, ctx) => void seen.push([ctx.signal, ctx.deadline]) }));
    ref.tell('x');
    await until(() => seen.length === 1);
    expect(seen).toEqual([[undefined, undefined]]);
  });

  it('caps an ask made for another ask by its deadline: both time out together, the inner one counted against its target', async () => {
    const clock = new SimulatedClock();
    const system = await startSystem({ clock });
    const inner: { signal?: AbortSignal; deadline?: number }[] = [];
    const slow = system.spawn(watcher(inner), { name: 'slow', breaker: { failureThreshold: 1 } });
    const middle = system.spawn(
      defineActor<null, unknown>({
        async receive(_s, m, ctx) {
          ctx.reply(await ctx.ask(slow, m, { timeoutMs: 60_000 }).catch((e: unknown) => e));
        },
      }),
    );
    const outer = middle.ask('x', { timeoutMs: 100 }).catch((e: unknown) => e);
    await nextTurn();
    expect(inner[0]!.deadline).toBe(100); // not 60 s: its asker's caller waits only 100 ms
    clock.advance(100);
    expect(await outer).toBeInstanceOf(TimeoutError);
    expect(inner[0]!.signal!.aborted).toBe(true);
    expect(system.tree().find((n) => n.path === '/slow')!.breaker).toBe('open'); // slow did time out
  });

  it('gives up the asks made for an ask whose caller gave up: their signals abort, nothing is counted', async () => {
    const system = await startSystem();
    const inner: { signal?: AbortSignal }[] = [];
    const slow = system.spawn(watcher(inner), { name: 'slow', breaker: { failureThreshold: 1 } });
    const forwarder = system.spawn(
      defineActor<null, unknown>({
        receive(_s, m, ctx) {
          const reply = ctx.deferReply();
          ctx.ask(slow, m).then(reply, reply.fail);
        },
      }),
    );
    const controller = new AbortController();
    const asked = forwarder.ask('x', { signal: controller.signal }).catch((e: unknown) => e);
    await until(() => inner.length === 1);
    controller.abort(new Error('caller left'));
    expect(((await asked) as Error).message).toBe('caller left');
    expect(inner[0]!.signal!.aborted).toBe(true);
    expect(system.tree().find((n) => n.path === '/slow')!.breaker).toBe('closed');
  });
});
