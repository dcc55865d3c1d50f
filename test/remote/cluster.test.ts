/**
 * Scale-out over a real nats-server (started here on a free loopback port): two nodes in this
 * process, then a node in a child process that is killed. Nothing is mocked.
 */
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ActorEvent,
  type ActorRef,
  type ActorSystem,
  ActorStoppedError,
  ClusterUnreachableError,
  ConfigError,
  type DownSignal,
  defineActor,
  MessageTooLargeError,
  NodeDownError,
  NoReplyError,
  realClock,
  TimeoutError,
} from '../../src/index.js';
import { encode } from '../../src/remote/wire.js';
import { startSystem, until } from '../helpers.js';
import { startChildNode } from './child-node.js';
import { freePort, type NatsServer, startNatsServer } from '../../supervisors/cluster-nats.js';

type CounterMsg = { type: 'add'; n: number } | { type: 'get' } | { type: 'crash' } | { type: 'mute' } | { type: 'sleep'; ms: number } | { type: 'deadline' };

const Counter = defineActor<number, CounterMsg>({
  init: () => 0,
  async receive(n, msg, ctx) {
    switch (msg.type) {
      case 'add':
        return n + msg.n;
      case 'get':
        ctx.reply(n);
        return;
      case 'crash':
        throw new Error('boom');
      case 'mute':
        return;
      case 'sleep':
        await new Promise((r) => setTimeout(r, msg.ms));
        ctx.reply('slept');
        return;
      case 'deadline':
        ctx.reply(ctx.deadline === undefined ? null : ctx.deadline - realClock.now());
        return;
    }
  },
});

const Inbox = defineActor<ActorEvent[], never>({
  init: () => [],
  receive() {},
  onEvent(events, event) {
    events.push(event);
  },
});

/** Watches the refs it is told; keeps each `down` it gets, with when it came. */
const Watcher = defineActor<{ downs: Array<{ path: string; reason: unknown; at: number }> }, { watch?: ActorRef; unwatch?: ActorRef }>({
  init: () => ({ downs: [] }),
  receive(_state, msg, ctx) {
    if (msg.watch) ctx.watch(msg.watch);
    if (msg.unwatch) ctx.unwatch(msg.unwatch);
  },
  onSignal(state, signal: DownSignal) {
    state.downs.push({ path: signal.ref.path, reason: signal.reason, at: performance.now() });
  },
});

function downsOf(system: ActorSystem, path = '/watcher'): Array<{ path: string; reason: unknown; at: number }> {
  return (system.getState(path) as { downs: Array<{ path: string; reason: unknown; at: number }> }).downs;
}

let nats: NatsServer;

beforeAll(async () => {
  nats = await startNatsServer();
});

afterAll(async () => {
  await nats?.stop();
});

function node(name: string, options: { askTimeoutMs?: number } = {}): Promise<ActorSystem> {
  return startSystem({ name, ...options, cluster: { servers: nats.url, node: name } });
}

describe('cluster options', () => {
  it('refuses unknown keys and bad values with ConfigError', async () => {
    await expect(startSystem({ cluster: { servers: nats.url, node: 'a', nodes: 2 } as never })).rejects.toMatchObject({ option: 'cluster.nodes' });
    await expect(startSystem({ cluster: { servers: nats.url, node: 'a.b' } })).rejects.toThrow(ConfigError);
    await expect(startSystem({ cluster: { servers: [], node: 'a' } })).rejects.toMatchObject({ option: 'cluster.servers' });
    await expect(startSystem({ cluster: { servers: nats.url, node: 'a', connectTimeoutMs: 0 } })).rejects.toMatchObject({ option: 'cluster.connectTimeoutMs' });
    await expect(startSystem({ cluster: { servers: nats.url, node: 'a', heartbeatMs: 0 } })).rejects.toMatchObject({ option: 'cluster.heartbeatMs' });
    await expect(startSystem({ cluster: { servers: nats.url, node: 'a', heartbeatMs: 300, downAfterMs: 500 } })).rejects.toMatchObject({
      option: 'cluster.downAfterMs',
    });
  });

  it('fails the start with ClusterUnreachableError naming the servers when none answers', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const error = await startSystem({ cluster: { servers: url, node: 'a', connectTimeoutMs: 500 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterUnreachableError);
    expect(error).toMatchObject({ code: 'CLUSTER_UNREACHABLE', servers: [url] });
    expect((error as Error).message).toContain(url);
  });

  it('remote() needs a cluster, a node name and an actor path', async () => {
    const alone = await startSystem();
    expect(() => alone.remote('b', '/x')).toThrow(ConfigError);
    const a = await node('a');
    expect(a.node).toBe('a');
    expect(() => a.remote('b.c', '/x')).toThrow(ConfigError);
    expect(() => a.remote('b', 'x')).toThrow(ConfigError);
    const ref = a.remote('b', '/trading/pricer');
    expect([ref.path, ref.name, ref.alive]).toEqual(['/trading/pricer', 'pricer', true]);
  });
});

describe('two nodes in one process', () => {
  it('tells and asks an actor on the other node', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter' });
    const counter = a.remote<CounterMsg>('b', '/counter');
    expect(counter.tell({ type: 'add', n: 2 })).toBe(true);
    counter.tell({ type: 'add', n: 40 }, { priority: 1 });
    expect(await counter.ask({ type: 'get' })).toBe(42);
    // From inside a handler on a: ctx.ask and ctx.tell take a remote ref too.
    const Forwarder = defineActor<null, CounterMsg>({
      init: () => null,
      async receive(_s, msg, ctx) {
        ctx.tell(counter, { type: 'add', n: 1 });
        ctx.reply(await ctx.ask(counter, msg));
      },
    });
    expect(await a.spawn(Forwarder, { name: 'proxy' }).ask({ type: 'get' })).toBe(43);
  });

  it('delivers tells in order, batched, before an ask made after them; as they were when told', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const Log = defineActor<unknown[], unknown>({
      init: () => [],
      receive(seen, msg, ctx) {
        if (msg === 'get') ctx.reply(seen);
        else seen.push(msg);
      },
    });
    b.spawn(Log, { name: 'log' });
    const log = a.remote('b', '/log');
    const message = { n: 0 };
    for (let n = 1; n <= 20_000; n++) {
      message.n = n; // changed after each tell: each arrives with the value it had then
      log.tell({ ...message, big: n === 7 ? 'x'.repeat(300_000) : undefined }, { priority: n % 3 === 0 ? 1 : 2 });
    }
    const mutated = { n: -1 };
    log.tell(mutated);
    mutated.n = -2;
    const seen = (await log.ask('get', { timeoutMs: 10_000 })) as Array<{ n: number }>;
    expect(seen).toHaveLength(20_001);
    // Within a priority, in the order told (the mailbox serves priority 1 first among those waiting together).
    const ns = seen.map((m) => m.n);
    for (const lane of [1, 2]) {
      const inLane = ns.filter((n) => n > 0 && (n % 3 === 0 ? 1 : 2) === lane);
      expect(inLane).toEqual([...inLane].sort((x, y) => x - y));
    }
    expect(ns).toContain(-1);
    expect(ns).not.toContain(-2);
    // An unencodable message is refused at the call, a dead letter, not a lost batch.
    const dead = a.deadLetters.list().length;
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(log.tell(cyclic)).toBe(false);
    expect(a.deadLetters.list().slice(dead)).toMatchObject([{ path: '/log', reason: 'undeliverable' }]);
    log.tell({ n: -3 }); // the tells after it go on
    expect(((await log.ask('get')) as unknown[]).length).toBe(20_002);
  });

  it('carries odd names, and values msgpackr keeps (Map, Date, bigint)', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const Echo = defineActor<null, unknown>({ init: () => null, receive: (_s, msg, ctx) => void ctx.reply(msg) });
    const parent = b.spawn(Echo, { name: 'odd name.with*dots' });
    b.spawn(Echo, { name: 'child>', parent });
    const value = { when: new Date(0), m: new Map([[1, 'x']]), big: 2n ** 70n, list: [1, 'two', null] };
    expect(await a.remote('b', '/odd name.with*dots').ask(value)).toEqual(value);
    expect(await a.remote('b', '/odd name.with*dots/child>').ask('hi')).toBe('hi');
  });

  it('a remote error arrives as the same typed error', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter' });
    const counter = a.remote<CounterMsg>('b', '/counter');
    const crash = await counter.ask({ type: 'crash' }).catch((e: unknown) => e);
    expect(crash).toBeInstanceOf(ActorStoppedError);
    expect(crash).toMatchObject({ code: 'ACTOR_STOPPED', crashed: true, path: '/counter' });
    expect((crash as Error).cause).toMatchObject({ message: 'boom' });
    await expect(counter.ask({ type: 'mute' })).rejects.toBeInstanceOf(NoReplyError);
    await expect(counter.ask({ type: 'mute' })).rejects.toMatchObject({ code: 'NO_REPLY', path: '/counter' });
    const missing = await a
      .remote('b', '/nobody')
      .ask('x')
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ActorStoppedError);
    expect(missing).toMatchObject({ code: 'ACTOR_STOPPED', path: '/nobody', crashed: false });
    await expect(counter.ask({ type: 'get' }, { timeoutMs: -1 })).rejects.toBeInstanceOf(ConfigError);
  });

  it('a remote ask times out at the caller deadline, which the remote handler sees', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter' });
    const counter = a.remote<CounterMsg>('b', '/counter');
    const left = (await counter.ask({ type: 'deadline' }, { timeoutMs: 800 })) as number;
    expect(left).toBeGreaterThan(600);
    expect(left).toBeLessThanOrEqual(800);
    const started = performance.now();
    const error = await counter.ask({ type: 'sleep', ms: 3000 }, { timeoutMs: 200 }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', path: '/counter', timeoutMs: 200 });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(700);
    // The caller's signal ends it too.
    const controller = new AbortController();
    const asked = counter.ask({ type: 'sleep', ms: 3000 }, { signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(asked).rejects.toThrow('gave up');
  });

  it("the caller's signal cancels the ask on the other node too: the handler's ctx.signal aborts with its reason", async () => {
    const [a, b] = [await node('a'), await node('b')];
    const seen: unknown[] = [];
    let started = false;
    const Slow = defineActor<null, string>({
      init: () => null,
      async receive(_s, _msg, ctx) {
        started = true;
        const signal = ctx.signal!; // an ask's handler always has one
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        seen.push(signal.reason);
      },
    });
    b.spawn(Slow, { name: 'slow' });
    const controller = new AbortController();
    const asked = a.remote('b', '/slow').ask('work', { signal: controller.signal, timeoutMs: 10_000 });
    await until(() => started, 5000); // being handled over there
    controller.abort(new TimeoutError('/caller', 50));
    await expect(asked).rejects.toBeInstanceOf(TimeoutError);
    await until(() => seen.length === 1, 2000);
    expect(seen[0]).toBeInstanceOf(TimeoutError);
    expect(seen[0]).toMatchObject({ code: 'TIMEOUT', path: '/caller' });
  });

  it("a remote ref shows the actor's breaker state from the latest reply, and its asks in flight as load", async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter', breaker: { failureThreshold: 1, resetTimeoutMs: 60_000 } });
    const counter = a.remote<CounterMsg>('b', '/counter');
    expect(counter.breakerState).toBeUndefined();
    expect(await counter.ask({ type: 'get' })).toBe(0);
    expect(counter.breakerState).toBe('closed');
    await expect(counter.ask({ type: 'crash' })).rejects.toMatchObject({ code: 'ACTOR_STOPPED' });
    await expect(counter.ask({ type: 'get' })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(counter.breakerState).toBe('open');
    const slow = counter.ask({ type: 'sleep', ms: 100 }).catch(() => 'refused');
    expect(counter.load).toBe(1);
    await slow;
    expect(counter.load).toBe(0);
  });

  it('publish reaches subscribers on every node, once each', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const here = a.spawn(Inbox, { name: 'inbox' });
    const there = b.spawn(Inbox, { name: 'inbox' });
    a.subscribe(here, 'news.*');
    b.subscribe(there, 'news.*');
    a.publish('news.tech', { title: 'NATS' }, { source: '/feed' });
    await until(() => (b.getState('/inbox') as ActorEvent[]).length === 1);
    expect(b.getState('/inbox')).toEqual([{ topic: 'news.tech', data: { title: 'NATS' }, source: 'a:/feed' }]);
    b.publish('news.sport', 1);
    await until(() => (a.getState('/inbox') as ActorEvent[]).length === 2);
    await new Promise((r) => setTimeout(r, 50)); // no echo arrives late
    expect(a.getState('/inbox')).toEqual([
      { topic: 'news.tech', data: { title: 'NATS' }, source: '/feed' },
      { topic: 'news.sport', data: 1 },
    ]);
    expect(b.getState('/inbox')).toHaveLength(2);
    // The nodes' own system events stay on their node.
    a.subscribe(here, 'actor.**');
    b.spawn(Counter, { name: 'counter' }).tell({ type: 'crash' });
    await until(() => (b.metrics().restarts.total ?? 0) === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.getState('/inbox')).toHaveLength(2);
  });

  it('an ask to a node that is not there fails at once with NodeDownError', async () => {
    const a = await node('a');
    const started = performance.now();
    const error = await a
      .remote('ghost', '/x')
      .ask('hello', { timeoutMs: 3000 })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(NodeDownError);
    expect(error).toBeInstanceOf(ActorStoppedError);
    expect(error).toMatchObject({ code: 'NODE_DOWN', node: 'ghost', path: '/x' });
  });

  it('shutdown closes the connection: asks from a stopped node are refused', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter' });
    const counter = a.remote<CounterMsg>('b', '/counter');
    expect(await counter.ask({ type: 'get' })).toBe(0);
    await b.shutdown();
    await expect(counter.ask({ type: 'get' })).rejects.toBeInstanceOf(NodeDownError);
    await a.shutdown();
    expect(counter.alive).toBe(false);
    await expect(counter.ask({ type: 'get' })).rejects.toMatchObject({ code: 'SYSTEM_STOPPED' });
    expect(counter.tell({ type: 'add', n: 1 })).toBe(false);
  });
});

describe('node failure detection', () => {
  it("a graceful shutdown: watchers get down with the actors' reason ('shutdown') at once, asks fail with NodeDownError", async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter' });
    const counter = a.remote<CounterMsg>('b', '/counter');
    expect(await counter.ask({ type: 'get' })).toBe(0);
    const watcher = a.spawn(Watcher, { name: 'watcher' });
    const other = a.remote('b', '/other');
    watcher.tell({ watch: counter });
    watcher.tell({ watch: other });
    watcher.tell({ unwatch: other });
    await new Promise((r) => setTimeout(r, 50));
    expect(downsOf(a)).toEqual([]);
    const started = performance.now();
    await b.shutdown();
    await until(() => downsOf(a).length === 1, 2000);
    expect(downsOf(a)[0]!.at - started).toBeLessThan(500);
    // The actor stopped (reason 'shutdown') before its node said goodbye: its own reason comes first.
    expect(downsOf(a)).toMatchObject([{ path: '/counter', reason: 'shutdown' }]);
    await until(() => !counter.alive, 1000);
    await expect(counter.ask({ type: 'get' })).rejects.toMatchObject({ code: 'NODE_DOWN', node: 'b', path: '/counter' });
    // A tell to it is a dead letter here, not a message lost on the wire.
    const dead = a.deadLetters.list().length;
    expect(counter.tell({ type: 'add', n: 1 })).toBe(false);
    expect(a.deadLetters.list().slice(dead)).toMatchObject([{ path: '/counter', reason: 'stopped' }]);
    // Watching an actor of a node already down: down at once.
    watcher.tell({ watch: a.remote('b', '/late') });
    await until(() => downsOf(a).length === 2, 1000);
    expect(downsOf(a)[1]).toMatchObject({ path: '/late', reason: 'nodedown' });
    // The node back under the same name: up again.
    const b2 = await node('b');
    b2.spawn(Counter, { name: 'counter' });
    await until(() => counter.alive, 2000);
    expect(await counter.ask({ type: 'get' })).toBe(0);
  });

  it('watchers of a remote actor get its own exit reason when it stops for good, not on a restart', async () => {
    const [a, b] = [await node('a'), await node('b')];
    const counter = b.spawn(Counter, { name: 'counter' });
    const crasher = b.spawn(Counter, { name: 'crasher', restart: 'temporary' });
    const restarted = b.spawn(Counter, { name: 'restarted' });
    b.spawn(Counter, { name: 'unwatched' });
    const watcher = a.spawn(Watcher, { name: 'watcher' });
    for (const path of ['/counter', '/crasher', '/restarted', '/unwatched', '/nobody']) watcher.tell({ watch: a.remote('b', path) });
    watcher.tell({ unwatch: a.remote('b', '/unwatched') });
    // No actor there: down at once, as a crash saying so.
    await until(() => downsOf(a).length === 1, 2000);
    expect(downsOf(a)[0]).toMatchObject({ path: '/nobody', reason: { error: { code: 'ACTOR_STOPPED' } } });
    await new Promise((r) => setTimeout(r, 50)); // the watches have reached b
    restarted.tell({ type: 'crash' }); // restarted (permanent): no down
    await b.stop(counter);
    crasher.tell({ type: 'crash' }); // temporary: gone for good, its crash the reason
    await b.stop(b.lookup('/unwatched')!);
    await until(() => downsOf(a).length === 3, 2000);
    await new Promise((r) => setTimeout(r, 100)); // nothing else comes
    const downs = downsOf(a)
      .slice(1)
      .sort((x, y) => x.path.localeCompare(y.path));
    expect(downs).toMatchObject([
      { path: '/counter', reason: 'normal' },
      { path: '/crasher', reason: { error: { message: 'boom' } } },
    ]);
    expect(downsOf(a)).toHaveLength(3);
    expect(restarted.alive).toBe(true);
  });

  it('drops malformed messages on every subject it listens to, and goes on working', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter' });
    const counter = a.remote<CounterMsg>('b', '/counter');
    const nc = await connect({ servers: nats.url });
    try {
      const junk = [new Uint8Array([0xc1]), encode(5), encode(null), encode([null, null, null]), encode(['a', 9, { toString: 1 }]), encode([1, null, null])];
      const subjects = [
        'genesis.event.t',
        'genesis.node.x',
        'genesis.node.b',
        'genesis.tells.b',
        'genesis.watch.b',
        'genesis.down.b',
        'genesis.cancel.b',
        'genesis.replica.b',
        'genesis.fetch.b',
        'genesis.hello.b',
        'genesis.actor.b.%zz',
        'genesis.actor.b.counter',
      ];
      for (const subject of subjects) for (const data of junk) nc.publish(subject, data);
      // A tell frame with a priority out of range, between two good ones: those two arrive.
      const frames = [encode(['/counter', { type: 'add', n: 1 }, 2]), encode(['/counter', { type: 'add', n: 100 }, 9]), encode(['/counter', { type: 'add', n: 1 }, 2])];
      const batch = new Uint8Array(frames.reduce((n, f) => n + 4 + f.byteLength, 0));
      let at = 0;
      for (const f of frames) {
        new DataView(batch.buffer).setUint32(at, f.byteLength);
        batch.set(f, at + 4);
        at += 4 + f.byteLength;
      }
      nc.publish('genesis.tells.b', batch);
      await nc.flush();
    } finally {
      await nc.close();
    }
    // Still reading: asks answered, heartbeats heard (a watched b stays up past downAfterMs).
    const watcher = a.spawn(Watcher, { name: 'watcher' });
    watcher.tell({ watch: counter });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await counter.ask({ type: 'get' })).toBe(2);
    expect(downsOf(a)).toEqual([]);
    expect(a.remote('b', '/counter').alive).toBe(true);
  });

  it('refuses a message over the server max_payload: a dead letter for a tell, MessageTooLargeError for an ask; the rest go on', async () => {
    const [a, b] = [await node('a'), await node('b')];
    b.spawn(Counter, { name: 'counter' });
    const counter = a.remote<CounterMsg>('b', '/counter');
    const big = { type: 'add', n: 1, pad: 'x'.repeat(2 * 1024 * 1024) } as unknown as CounterMsg;
    for (let i = 0; i < 5; i++) counter.tell({ type: 'add', n: 1 });
    const dead = a.deadLetters.list().length;
    expect(counter.tell(big)).toBe(false);
    expect(a.deadLetters.list().slice(dead)).toMatchObject([{ path: '/counter', reason: 'undeliverable', error: { code: 'MESSAGE_TOO_LARGE' } }]);
    for (let i = 0; i < 5; i++) counter.tell({ type: 'add', n: 1 });
    await expect(counter.ask(big)).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(await counter.ask({ type: 'get' })).toBe(10);
  });

  it('refuses a second process under a node name another live process has', async () => {
    await node('a');
    const error = await node('a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'CONFIG', option: 'cluster.node' });
    expect((error as Error).message).toContain("node 'a' is already in the cluster");
  });

  it('a node never heard from is down once downAfterMs has passed', async () => {
    const a = await startSystem({ name: 'a', cluster: { servers: nats.url, node: 'a', heartbeatMs: 50, downAfterMs: 200 } });
    a.spawn(Watcher, { name: 'watcher' }).tell({ watch: a.remote('nobody', '/x') });
    const started = performance.now();
    await until(() => downsOf(a).length === 1, 2000);
    expect(performance.now() - started).toBeLessThan(600);
    expect(downsOf(a)).toMatchObject([{ path: '/x', reason: 'nodedown' }]);
  });
});

describe('a node in another process', () => {
  it('serves asks, tells and events across processes; killed, its asks fail fast with NodeDownError', async () => {
    const { child, lines, ready, kill } = startChildNode(nats.url, 'b');
    try {
      await ready;
      const a = await node('a');
      const echo = a.remote('b', '/echo');
      expect(await echo.ask({ hello: [1, 2] })).toEqual({ node: 'b', echo: { hello: [1, 2] } });
      await expect(echo.ask('crash')).rejects.toMatchObject({ code: 'ACTOR_STOPPED', crashed: true, path: '/echo' });
      await expect(echo.ask({ sleep: 2000 }, { timeoutMs: 150 })).rejects.toBeInstanceOf(TimeoutError);
      // Events both ways.
      a.publish('news.hi', { n: 1 });
      await until(() => lines.some((l) => l.startsWith('event news.hi')), 3000);
      expect(lines).toContain('event news.hi {"n":1} -');
      const inbox = a.spawn(Inbox, { name: 'inbox' });
      a.subscribe(inbox, 'from.*');
      expect(a.remote('b', '/listener').tell('go')).toBe(true);
      await until(() => (a.getState('/inbox') as ActorEvent[]).length === 1, 3000);
      expect(a.getState('/inbox')).toEqual([{ topic: 'from.b', data: { hello: 'b' }, source: 'b:/listener' }]);
      // Killed: the server drops its subscriptions, and the next ask fails at once.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      let error: unknown;
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        error = await echo.ask('anyone?', { timeoutMs: 2000 }).catch((e: unknown) => e);
        if (error instanceof NodeDownError) {
          expect(performance.now() - started).toBeLessThan(500);
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(error).toBeInstanceOf(NodeDownError);
      expect(error).toMatchObject({ code: 'NODE_DOWN', node: 'b', path: '/echo' });
    } finally {
      kill();
    }
  }, 30_000);

  it('replaced by a new process sooner than downAfterMs: watchers get down (nodedown) at its first heartbeat', async () => {
    const start = () => startChildNode(nats.url, 'd');
    const first = start();
    let second: ReturnType<typeof start> | undefined;
    try {
      await first.ready;
      // A downAfterMs far longer than the test: only the new process's instance id can tell.
      const a = await startSystem({ name: 'a', cluster: { servers: nats.url, node: 'a', heartbeatMs: 100, downAfterMs: 60_000 } });
      const echo = a.remote('d', '/echo');
      expect(await echo.ask('hi')).toEqual({ node: 'd', echo: 'hi' });
      a.spawn(Watcher, { name: 'watcher' }).tell({ watch: echo });
      // The watch has learnt which process d is (it asks d at once; d's heartbeats, every 250 ms, tell too).
      await new Promise((r) => setTimeout(r, 1000));
      const exited = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGKILL');
      await exited;
      second = start();
      await second.ready;
      await until(() => downsOf(a).length === 1, 3000);
      expect(downsOf(a)).toMatchObject([{ path: '/echo', reason: 'nodedown' }]);
      // The new process serves under the name from then on.
      expect(await echo.ask('again')).toEqual({ node: 'd', echo: 'again' });
    } finally {
      first.kill();
      second?.kill();
    }
  }, 40_000);

  it('a watcher on a node that was paused past downAfterMs still gets down once it is back', async () => {
    const { child, lines, ready, kill } = startChildNode(nats.url, 'p');
    try {
      await ready;
      const a = await node('a'); // downAfterMs 1000
      const x = a.spawn(Counter, { name: 'x' });
      a.remote('p', '/watcher').tell(['a', '/x']);
      await until(() => lines.includes('watching a:/x'), 5000);
      await new Promise((r) => setTimeout(r, 200)); // the watch has reached a
      // p stops for longer than downAfterMs: a finds it down and forgets the watches p asked for.
      child.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 1800));
      child.kill('SIGCONT');
      // Once a hears p again it asks p to send its watches again.
      await until(() => a.remote('p', '/echo').alive, 5000);
      await new Promise((r) => setTimeout(r, 500));
      await a.stop(x);
      await until(() => lines.some((l) => l.startsWith('down /x')), 5000);
      expect(lines.filter((l) => l.startsWith('down '))).toEqual(['down /x normal']);
    } finally {
      kill();
    }
  }, 40_000);

  it('killed (SIGKILL): watchers get down (nodedown) within downAfterMs, asks in flight fail then', async () => {
    const { child, ready, kill } = startChildNode(nats.url, 'c');
    try {
      await ready;
      const a = await node('a'); // downAfterMs 1000 by default
      const echo = a.remote('c', '/echo');
      expect(await echo.ask('hi')).toEqual({ node: 'c', echo: 'hi' });
      a.spawn(Watcher, { name: 'watcher' }).tell({ watch: echo });
      const inFlight = echo.ask({ sleep: 10_000 }, { timeoutMs: 20_000 }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 100));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      const killed = performance.now();
      await exited;
      const error = await inFlight;
      expect(error).toBeInstanceOf(NodeDownError);
      expect(error).toMatchObject({ code: 'NODE_DOWN', node: 'c', path: '/echo' });
      await until(() => downsOf(a).length === 1, 3000);
      const after = downsOf(a)[0]!.at - killed;
      expect(after).toBeLessThan(1000 + 250 + 400);
      expect(downsOf(a)).toMatchObject([{ path: '/echo', reason: 'nodedown' }]);
      const started = performance.now();
      await expect(echo.ask('anyone?', { timeoutMs: 5000 })).rejects.toBeInstanceOf(NodeDownError);
      expect(performance.now() - started).toBeLessThan(100);
    } finally {
      kill();
    }
  }, 30_000);
});
