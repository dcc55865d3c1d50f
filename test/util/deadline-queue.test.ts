/**
 * The shared deadline queue on a SimulatedClock: entries expire at their deadline (never early),
 * in deadline order whether they sit in a recurring value's list or in the heap of one-offs;
 * removed entries never expire; one clock timer serves them all; the lists stay bounded.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../actors/rng.js';
import { SimulatedClock } from '../../src/util/clock.js';
import { DeadlineEntry, DeadlineQueue, MAX_LISTS } from '../../src/util/deadline-queue.js';

/** An entry that records when (and with which timeout) it expired. */
class Probe extends DeadlineEntry {
  expiredAt = -1;
  expiredWith = -1;
  constructor(
    readonly name: string,
    private readonly log: Probe[],
    private readonly clock: SimulatedClock,
    private readonly onExpire?: () => void,
  ) {
    super();
  }
  expire(timeoutMs: number): void {
    this.expiredAt = this.clock.now();
    this.expiredWith = timeoutMs;
    this.log.push(this);
    this.onExpire?.();
  }
}

function setup(stamp: 'clock' | 'turn' = 'clock') {
  const clock = new SimulatedClock(1000);
  const queue = new DeadlineQueue<Probe>(clock, { stamp });
  const log: Probe[] = [];
  const add = (name: string, timeoutMs: number, onExpire?: () => void) => {
    const probe = new Probe(name, log, clock, onExpire);
    queue.add(probe, timeoutMs);
    return probe;
  };
  return { clock, queue, log, add };
}

describe('DeadlineQueue (clock-stamped)', () => {
  it('expires mixed recurring and one-off timeouts in deadline order, each at its deadline', () => {
    const { clock, queue, log, add } = setup();
    // 100 recurs (a shared list after its first miss); 30, 70, 250 come once (the heap)
    const expected = new Map<Probe, number>();
    for (const [name, ms, wait] of [
      ['a100', 100, 0],
      ['b30', 30, 5],
      ['c100', 100, 5],
      ['d250', 250, 10],
      ['e70', 70, 0],
      ['f100', 100, 20],
    ] as const) {
      clock.advance(wait);
      expected.set(add(name, ms), clock.now() + ms);
    }
    expect(queue.pending).toBe(5); // b30 expired on the way, at 1035
    expect(queue.held).toBeLessThanOrEqual(5); // one list for 100 (after a100 went to the heap)
    clock.advance(1000);
    expect(log.map((p) => p.name)).toEqual(['b30', 'e70', 'a100', 'c100', 'f100', 'd250']);
    for (const probe of log) expect(probe.expiredAt).toBe(expected.get(probe));
    expect(log.map((p) => p.expiredWith)).toEqual([30, 70, 100, 100, 100, 250]);
    expect(queue.pending).toBe(0);
    expect(queue.held).toBe(0);
  });

  it('never expires a removed entry, from a list or from the middle of the heap', () => {
    const { clock, queue, log, add } = setup();
    const random = seededRandom(7);
    const probes = Array.from({ length: 200 }, (_, i) => add(`p${i}`, 1 + Math.floor(random() * 5000)));
    const removed = new Set(probes.filter((_, i) => i % 3 === 0));
    for (const probe of removed) queue.remove(probe);
    for (const probe of removed) expect(probe.list).toBeNull();
    expect(queue.pending).toBe(200 - removed.size);
    clock.advance(6000);
    expect(log.some((p) => removed.has(p))).toBe(false);
    expect(log).toHaveLength(200 - removed.size);
    const times = log.map((p) => p.expiredAt);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    for (const probe of log) expect(probe.expiredAt).toBe(1000 + probe.expiredWith);
  });

  it('keeps one clock timer for every pending entry, re-armed for the earliest deadline', () => {
    const { clock, queue, add } = setup();
    add('late', 500);
    expect(clock.pendingTimers).toBe(1);
    for (let i = 0; i < 50; i++) add(`x${i}`, 100 + (i % 7) * 10);
    const early = add('early', 20); // earlier than the armed deadline: re-armed, not added
    expect(clock.pendingTimers).toBe(1);
    clock.advance(19);
    expect(early.expiredAt).toBe(-1);
    clock.advance(1);
    expect(early.expiredAt).toBe(1020);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(500);
    expect(queue.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('bounds its lists whatever the number of distinct recurring timeouts', () => {
    const { clock, queue, add } = setup();
    const probes: Probe[] = [];
    // every value recurs (three times in a row), 300 distinct values
    for (let v = 1; v <= 300; v++) for (let k = 0; k < 3; k++) probes.push(add(`v${v}`, 1000 + v));
    const oneOffs = queue.held - MAX_LISTS;
    expect(queue.held).toBeLessThanOrEqual(MAX_LISTS + queue.pending);
    expect(oneOffs).toBeGreaterThan(0); // values past the cap went to the heap
    for (const probe of probes.slice(0, 450)) queue.remove(probe);
    clock.advance(2000);
    expect(queue.pending).toBe(0);
    expect(queue.held).toBe(0); // empty lists go at the sweep
  });

  it('entries added by an expiring entry are swept in their turn', () => {
    const { clock, log, add } = setup();
    add('first', 10, () => add('chained', 10));
    add('other', 15);
    clock.advance(100);
    expect(log.map((p) => `${p.name}@${p.expiredAt}`)).toEqual(['first@1010', 'other@1015', 'chained@1020']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('failAll ends every pending entry once and disarms the timer', () => {
    const { clock, queue, add } = setup();
    const probes = [add('a', 10), add('b', 10), add('c', 10), add('d', 77)];
    const ended: string[] = [];
    queue.failAll((p) => ended.push(p.name));
    expect(ended.sort()).toEqual(probes.map((p) => p.name).sort());
    expect(queue.pending).toBe(0);
    expect(queue.held).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('DeadlineQueue (turn-stamped)', () => {
  it('reads no clock to add an entry of a recurring value, and expires it timeoutMs after its turn ended', () => {
    const { clock, queue, log, add } = setup('turn');
    add('warm', 100); // a first value is a one-off (heap, clock read)
    let reads = 0;
    const now = clock.now.bind(clock);
    clock.now = () => {
      reads++;
      return now();
    };
    const probes = Array.from({ length: 100 }, (_, i) => add(`p${i}`, 100));
    expect(reads).toBe(0);
    expect(clock.pendingTimers).toBe(1); // the close of the turn
    clock.advance(99);
    expect(log.map((p) => p.name)).toEqual([]);
    clock.advance(1);
    expect(log).toHaveLength(101);
    expect(probes.every((p) => p.expiredAt === 1100)).toBe(true);
    expect(queue.pending).toBe(0);
  });

  it('orders list and heap entries by deadline across turns', () => {
    const { clock, log, add } = setup('turn');
    add('a50', 50);
    add('b50', 50); // recurs: a shared list
    clock.advance(10);
    add('c20', 20); // one-off: heap, due 1030
    add('d50', 50); // list, due 1060
    clock.advance(200);
    // a tie at one instant: the lists are swept before the heap
    expect(log.map((p) => `${p.name}@${p.expiredAt}`)).toEqual(['c20@1030', 'b50@1050', 'a50@1050', 'd50@1060']);
  });

  it('keeps no timer once it is empty, and a turn close pending is left alone', () => {
    const { clock, queue, add } = setup('turn');
    const x = add('x', 30_000); // heap
    const y = add('y', 30_000); // list
    clock.advance(0); // the turn closes; the timer is re-armed for 30 s
    expect(clock.pendingTimers).toBe(1);
    queue.remove(y);
    expect(clock.pendingTimers).toBe(1);
    queue.remove(x);
    expect(queue.pending).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    const z = add('z', 30_000);
    queue.remove(z); // the close is pending: not cancelled (no timer churn per call)
    expect(clock.pendingTimers).toBe(1);
    clock.advance(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts events per turn and closes the turn on demand', () => {
    const { clock, queue } = setup('turn');
    const turn = queue.turn;
    turn.count += 3;
    queue.endTurnSoon();
    queue.endTurnSoon();
    expect(clock.pendingTimers).toBe(1);
    clock.advance(0);
    expect(turn.end).toBe(1000);
    expect(queue.turn).not.toBe(turn);
    expect(queue.turn.count).toBe(0);
  });
});
