import { describe, expect, it } from 'vitest';
import { type ActorEvent, ConfigError, defineActor } from '../src/index.js';
import { nextTurn, startSystem, until } from './helpers.js';

const Listener = defineActor<ActorEvent[], string | { publish: string }, { topics: string[] }>({
  init: (args, ctx) => {
    for (const topic of args.topics) ctx.subscribe(topic);
    return [];
  },
  receive(events, m, ctx) {
    if (typeof m === 'object') ctx.publish(m.publish, 'from-actor');
    else ctx.reply([...events]);
  },
  onEvent: (events, event) => void events.push(event),
});

describe('pub/sub', () => {
  it('delivers to exact subscribers asynchronously, with topic, data and source', async () => {
    const system = await startSystem();
    const l = system.spawn(Listener, { name: 'l', args: { topics: ['price.BTC'] } });
    system.publish('price.BTC', 100, { source: '/feed' });
    expect(await l.ask('get')).toEqual([{ topic: 'price.BTC', data: 100, source: '/feed' }]);
  });

  it('matches * to one segment and ** to any number of segments', async () => {
    const system = await startSystem();
    const one = system.spawn(Listener, { args: { topics: ['market.*.trade'] } });
    const any = system.spawn(Listener, { args: { topics: ['breaker.**'] } });
    const part = system.spawn(Listener, { args: { topics: ['price*'] } });
    for (const topic of ['market.BTC.trade', 'market.BTC.ETH.trade', 'market.trade', 'breaker.open', 'breaker.a.b', 'pricefeed', 'price.x']) {
      system.publish(topic, topic);
    }
    const topics = async (ref: typeof one) => ((await ref.ask('get')) as ActorEvent[]).map((e) => e.topic);
    expect(await topics(one)).toEqual(['market.BTC.trade']);
    expect(await topics(any)).toEqual(['breaker.open', 'breaker.a.b']);
    expect(await topics(part)).toEqual(['pricefeed']);
  });

  it('delivers an event once to an actor whose patterns overlap', async () => {
    const system = await startSystem();
    const l = system.spawn(Listener, { args: { topics: ['a.b', 'a.*', 'a.**'] } });
    system.publish('a.b', 1);
    expect(((await l.ask('get')) as unknown[]).length).toBe(1);
  });

  it('never delivers an event back to the publishing actor', async () => {
    const system = await startSystem();
    const publisher = system.spawn(Listener, { name: 'pub', args: { topics: ['news'] } });
    const other = system.spawn(Listener, { name: 'other', args: { topics: ['news'] } });
    publisher.tell({ publish: 'news' });
    await until(() => system.metrics().eventsPublished === 1);
    expect(await publisher.ask('get')).toEqual([]);
    expect(await other.ask('get')).toEqual([{ topic: 'news', data: 'from-actor', source: '/pub' }]);
    system.publish('news', 'external', { source: other });
    expect(((await other.ask('get')) as unknown[]).length).toBe(1);
    expect(((await publisher.ask('get')) as unknown[]).length).toBe(1);
  });

  it('stops delivering after unsubscribe and after the subscriber stops', async () => {
    const system = await startSystem();
    const l = system.spawn(Listener, { args: { topics: ['t'] } });
    system.subscribe(l, 'u');
    expect(system.unsubscribe(l, 't')).toBe(true);
    system.publish('t', 1);
    system.publish('u', 2);
    expect(((await l.ask('get')) as ActorEvent[]).map((e) => e.data)).toEqual([2]);
    await system.stop(l);
    system.publish('u', 3);
    expect(system.metrics().eventsUnrouted).toBe(2);
  });

  it('dead-letters an event its subscriber cannot take (full mailbox)', async () => {
    const system = await startSystem();
    const l = system.spawn(Listener, { args: { topics: ['t'] }, mailbox: { capacity: 1 } });
    system.publish('t', 1);
    system.publish('t', 2);
    await nextTurn();
    expect(system.deadLetters.counts()).toEqual({ undeliverable: 1 });
    expect(system.deadLetters.list()[0]!.message).toEqual({ topic: 't', data: 2 });
    expect(((await l.ask('get')) as unknown[]).length).toBe(1);
  });

  it('refuses bad topics and subscribers without onEvent with a ConfigError', async () => {
    const system = await startSystem();
    const plain = system.spawn(defineActor({ receive() {} }));
    expect(() => system.subscribe(plain, 't')).toThrow(/no onEvent handler/);
    expect(() => system.publish('', 1)).toThrow(ConfigError);
    expect(() => system.publish('a.*', 1)).toThrow(/cannot publish to a pattern/);
  });
});
