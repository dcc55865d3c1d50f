import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineActor } from '../../src/index.js';
import { DEFAULT_MAILBOX, evicted, Mailbox, Offer } from '../../src/core/mailbox.js';
import { startSystem, until } from '../helpers.js';

function drain(mailbox: Mailbox): unknown[] {
  const out: unknown[] = [];
  while (!mailbox.isEmpty) out.push(mailbox.take());
  return out;
}

describe('Mailbox', () => {
  it('takes system messages first, then priority 0 … 4, FIFO within a priority', () => {
    const mailbox = new Mailbox(DEFAULT_MAILBOX);
    mailbox.offer(4, 'low-1', undefined);
    mailbox.offer(2, 'mid-1', undefined);
    mailbox.offer(0, 'high-1', undefined);
    mailbox.offer(2, 'mid-2', undefined);
    mailbox.pushSystem('sys', undefined);
    mailbox.offer(0, 'high-2', undefined);
    expect(drain(mailbox)).toEqual(['sys', 'high-1', 'high-2', 'mid-1', 'mid-2', 'low-1']);
  });

  it('keeps FIFO order while its ring buffer grows and wraps', () => {
    const mailbox = new Mailbox(DEFAULT_MAILBOX);
    const taken: number[] = [];
    let sent = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37; i++) mailbox.offer(1, sent++, undefined);
      for (let i = 0; i < 20; i++) taken.push(mailbox.take() as number);
    }
    taken.push(...(drain(mailbox) as number[]));
    expect(taken).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(mailbox.size).toBe(0);
  });

  it('counts only the priority lanes toward capacity', () => {
    const mailbox = new Mailbox({ ...DEFAULT_MAILBOX, capacity: 2 });
    mailbox.pushSystem('sys-1', undefined);
    mailbox.pushSystem('sys-2', undefined);
    expect(mailbox.offer(2, 'a', undefined)).toBe(Offer.Accepted);
    expect(mailbox.offer(2, 'b', undefined)).toBe(Offer.Accepted);
    expect(mailbox.offer(2, 'c', undefined)).toBe(Offer.Refused);
    expect(mailbox.size).toBe(2);
  });

  it('drop-oldest evicts the oldest message of the least important non-empty priority', () => {
    const mailbox = new Mailbox({ ...DEFAULT_MAILBOX, capacity: 3, overflow: 'drop-oldest' });
    mailbox.offer(1, 'p1-a', undefined);
    mailbox.offer(3, 'p3-a', undefined);
    mailbox.offer(3, 'p3-b', undefined);
    expect(mailbox.offer(0, 'p0-a', undefined)).toBe(Offer.Evicted);
    expect(evicted.message).toBe('p3-a');
    expect(drain(mailbox)).toEqual(['p0-a', 'p1-a', 'p3-b']);
  });

  it('drop-oldest refuses a newcomer less important than everything queued', () => {
    const mailbox = new Mailbox({ ...DEFAULT_MAILBOX, capacity: 2, overflow: 'drop-oldest' });
    mailbox.offer(0, 'a', undefined);
    mailbox.offer(1, 'b', undefined);
    expect(mailbox.offer(4, 'c', undefined)).toBe(Offer.Refused);
    expect(drain(mailbox)).toEqual(['a', 'b']);
  });

  it('reports depth per priority', () => {
    const mailbox = new Mailbox(DEFAULT_MAILBOX);
    mailbox.offer(0, 1, undefined);
    mailbox.offer(4, 2, undefined);
    mailbox.offer(4, 3, undefined);
    expect(mailbox.depths()).toEqual({ system: 0, byPriority: [1, 0, 0, 0, 2] });
  });
});

describe('mailbox ordering through an actor (property)', () => {
  it('handles each priority in send order and loses or duplicates nothing, for any interleaving', async () => {
    const system = await startSystem();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ priority: fc.integer({ min: 0, max: 4 }), yieldAfter: fc.boolean() }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 50 }),
        async (sends, throughput) => {
          let seen: Array<[number, number]> = [];
          const ref = system.spawn(defineActor<null, [number, number]>({ receive: (_s, m) => void seen.push(m) }), { mailbox: { throughput } });
          for (let i = 0; i < sends.length; i++) {
            ref.tell([sends[i]!.priority, i], { priority: sends[i]!.priority });
            if (sends[i]!.yieldAfter) await Promise.resolve(); // let the scheduler run part-way
          }
          await until(() => seen.length >= sends.length);
          // nothing lost, nothing duplicated
          expect(seen.map(([, i]) => i).sort((a, b) => a - b)).toEqual(sends.map((_, i) => i));
          // each priority in send order
          for (let p = 0; p < 5; p++) {
            const order = seen.filter(([q]) => q === p).map(([, i]) => i);
            expect(order).toEqual([...order].sort((a, b) => a - b));
          }
          await system.stop(ref);
          seen = [];
        },
      ),
      { numRuns: 150 },
    );
  });

  it('handles a backlog strictly by priority when it was queued before the actor ran', async () => {
    const system = await startSystem();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 200 }), async (priorities) => {
        const seen: Array<[number, number]> = [];
        const ref = system.spawn(defineActor<null, [number, number]>({ receive: (_s, m) => void seen.push(m) }));
        for (const [i, p] of priorities.entries()) ref.tell([p, i], { priority: p });
        await until(() => seen.length === priorities.length);
        const expected = priorities.map((p, i) => [p, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(seen).toEqual(expected);
        await system.stop(ref);
      }),
      { numRuns: 100 },
    );
  });
});
