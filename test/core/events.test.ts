import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, EventBus, matchesTopic } from '../../src/core/events.js';
import { type ActorEvent, ConfigError, defineActor } from '../../src/index.js';
import { nextTurn, startSystem, until } from '../helpers.js';

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

/** The definition, directly: `**` takes any characters, `*` any without a '.', the rest itself.
 *  Exponential on bad patterns, fine for short ones. */
function reference(pattern: string, topic: string): boolean {
  if (pattern === '') return topic === '';
  if (pattern.startsWith('**')) {
    for (let k = 0; k <= topic.length; k++) if (reference(pattern.slice(2), topic.slice(k))) return true;
    return false;
  }
  if (pattern[0] === '*') {
    for (let k = 0; k <= topic.length && (k === 0 || topic[k - 1] !== '.'); k++) {
      if (reference(pattern.slice(1), topic.slice(k))) return true;
    }
    return false;
  }
  return topic[0] === pattern[0] && reference(pattern.slice(1), topic.slice(1));
}

const matches = (pattern: string, topic: string) => matchesTopic(compilePattern(pattern), topic);

describe('pattern matching', () => {
  it('matches a pathological pattern against long topics correctly, without backtracking', () => {
    // A backtracking regex needs ~3^(n/2) steps here: 0.5 s at 28 characters, forever at 1000.
    const pattern = '*a*a*a*a*a*a*a*a*a*a*a*a*c';
    for (const n of [28, 1000]) {
      expect(matches(pattern, 'a'.repeat(n))).toBe(false);
      expect(matches(pattern, `${'a'.repeat(n)}c`)).toBe(true);
      expect(matches(pattern, `${'a'.repeat(n)}.c`)).toBe(false); // '*' never crosses a dot
    }
    expect(matches('**a**a**a**a**a**a**a**a**a**a**c', 'a.'.repeat(500))).toBe(false);
    expect(matches('**a**a**a**a**a**a**a**a**a**a**c', `${'a.'.repeat(500)}c`)).toBe(true);
    const bus = new EventBus<string>();
    bus.subscribe('slow', pattern);
    bus.subscribe('all', '**');
    expect(bus.match('a'.repeat(1000))).toEqual(['all']);
    expect(bus.match(`${'a'.repeat(1000)}c`)).toEqual(['slow', 'all']);
  });

  it('agrees with the definition on random short patterns and topics', () => {
    // A tiny alphabet, so that about one pair in eight matches.
    const pattern = fc.array(fc.constantFrom('a', 'b', '.', '*', '**'), { maxLength: 8 }).map((parts) => parts.join(''));
    const topic = fc.array(fc.constantFrom('a', 'b', '.', '*'), { maxLength: 12 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(pattern, topic, (p, t) => {
        expect(matches(p, t)).toBe(reference(p, t));
      }),
      { numRuns: 5000 },
    );
  });

  it('treats a pattern without wildcards, and regex metacharacters, literally', () => {
    expect(matches('a.b', 'a.b')).toBe(true);
    expect(matches('a.b', 'axb')).toBe(false);
    expect(matches('a+(b)|[c]$', 'a+(b)|[c]$')).toBe(true);
    expect(matches('*.^', 'x.^')).toBe(true);
    expect(matches('breaker.**', 'breaker')).toBe(false);
    expect(matches('**', '')).toBe(true);
  });
});
