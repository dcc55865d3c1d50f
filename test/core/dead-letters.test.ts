import { describe, expect, it } from 'vitest';
import { defineActor, MailboxFullError } from '../../src/index.js';
import { startSystem, until } from '../helpers.js';

describe('overflow policies and dead letters', () => {
  const Sink = defineActor<unknown[], unknown>({
    init: () => [],
    receive(seen, m, ctx) {
      if (m === 'get') ctx.reply([...seen]);
      else seen.push(m);
    },
  });

  it('reject: refuses the newcomer, tell returns false, an ask fails with MailboxFullError', async () => {
    const system = await startSystem();
    const ref = system.spawn(Sink, { name: 'sink', mailbox: { capacity: 2, overflow: 'reject' } });
    expect(ref.tell(1)).toBe(true);
    expect(ref.tell(2)).toBe(true);
    expect(ref.tell(3)).toBe(false);
    const error = await ref.ask('get').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailboxFullError);
    expect((error as MailboxFullError).message).toBe('mailbox of /sink is full (capacity 2)');
    expect(system.deadLetters.counts()).toEqual({ rejected: 2 });
    expect(await ref.ask('get')).toEqual([1, 2]);
  });

  it('drop-newest: drops the newcomer into dead letters', async () => {
    const system = await startSystem();
    const ref = system.spawn(Sink, { mailbox: { capacity: 2, overflow: 'drop-newest' } });
    expect([1, 2, 3, 4].map((m) => ref.tell(m))).toEqual([true, true, false, false]);
    await until(() => system.metrics().messagesHandled >= 2);
    expect(await ref.ask('get')).toEqual([1, 2]);
    expect(system.deadLetters.list().map((l) => [l.reason, l.message])).toEqual([
      ['dropped-newest', 3],
      ['dropped-newest', 4],
    ]);
  });

  it('drop-oldest: evicts the oldest and keeps the newest', async () => {
    const system = await startSystem();
    const ref = system.spawn(Sink, { mailbox: { capacity: 2, overflow: 'drop-oldest' } });
    for (const m of [1, 2, 3, 4]) expect(ref.tell(m)).toBe(true);
    await until(() => system.metrics().messagesHandled >= 2);
    expect(system.deadLetters.list().map((l) => l.message)).toEqual([1, 2]);
    expect(await ref.ask('get')).toEqual([3, 4]);
  });

  it('drop-oldest fails an evicted ask with MailboxFullError', async () => {
    const system = await startSystem();
    const ref = system.spawn(Sink, { mailbox: { capacity: 1, overflow: 'drop-oldest' } });
    const evicted = ref.ask('get');
    ref.tell('newer');
    await expect(evicted).rejects.toBeInstanceOf(MailboxFullError);
  });

  it('keeps only the newest entries in its ring but counts all of them', async () => {
    const system = await startSystem({ deadLetterCapacity: 3 });
    const ref = system.spawn(Sink);
    await system.stop(ref);
    for (let i = 0; i < 10; i++) ref.tell(i);
    expect(system.deadLetters.list().map((l) => l.message)).toEqual([7, 8, 9]);
    expect(system.deadLetters.counts()).toEqual({ stopped: 10 });
    expect(system.deadLetters.total).toBe(10);
    const [letter] = system.deadLetters.list();
    expect(letter).toMatchObject({ path: ref.path, reason: 'stopped' });
    expect(typeof letter!.at).toBe('number');
  });

  it('logs each dead letter at debug level', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const { pino } = await import('pino');
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const system = await startSystem({ logger });
    const ref = system.spawn(Sink, { name: 'gone' });
    await system.stop(ref);
    ref.tell('lost');
    expect(lines.filter((l) => l.msg === 'dead letter')).toEqual([expect.objectContaining({ path: '/gone', reason: 'stopped', level: 20 })]);
  });
});
