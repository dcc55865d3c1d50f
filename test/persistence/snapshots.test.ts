import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CRASH, crashable } from '../../actors/chaos/chaos.js';
import { ConfigError, defineActor, SimulatedClock, type SystemOptions } from '../../src/index.js';
import { CheckpointError, TimeoutError } from '../../src/util/errors.js';
import { MemorySnapshotStore } from '../../src/persistence/memory-store.js';
import type { SnapshotRow, SnapshotStore } from '../../src/persistence/snapshot-store.js';
import { nextTurn, startSystem, until } from '../helpers.js';

type Msg = { type: 'add'; n: number } | { type: 'get' } | { type: 'save' };
const Account = crashable(
  defineActor<{ balance: number; history: Map<string, Date> }, Msg>({
    version: 2,
    init: () => ({ balance: 0, history: new Map() }),
    receive(state, msg, ctx) {
      if (msg.type === 'add') {
        state.history.set(`+${msg.n}`, new Date(0));
        return { ...state, balance: state.balance + msg.n };
      }
      if (msg.type === 'save') {
        void ctx.snapshotNow().then((seq) => ctx.log.info({ seq }, 'saved'));
        return { ...state, balance: state.balance + 1000 }; // the snapshot holds this new state
      }
      ctx.reply(state.balance);
    },
    migrate(old, fromVersion) {
      const o = old as { cents: number };
      if (fromVersion !== 1) throw new Error(`cannot migrate from ${fromVersion}`);
      return { balance: o.cents / 100, history: new Map() };
    },
  }),
);

/** A store that records its batches and can corrupt rows on the way out. */
class SpyStore extends MemorySnapshotStore implements SnapshotStore {
  batches: SnapshotRow[][] = [];
  corrupt = new Set<string>(); // `${path}#${seq}#${holder}`

  override writeBatch(rows: SnapshotRow[], keep?: ReadonlyMap<string, number>): void {
    this.batches.push(rows);
    super.writeBatch(rows, keep);
  }

  private spoil(rows: SnapshotRow[]): SnapshotRow[] {
    return rows.map((r) => {
      if (!this.corrupt.has(`${r.path}#${r.seq}#${r.holder}`)) return r;
      const data = Uint8Array.from(r.data);
      data[0] = data[0]! ^ 0xff;
      return { ...r, data };
    });
  }

  reads = 0;

  override own(path: string, limit?: number): SnapshotRow[] {
    this.reads++;
    return this.spoil(super.own(path, limit));
  }

  override replicas(path: string): SnapshotRow[] {
    return this.spoil(super.replicas(path));
  }
}

async function system(options: SystemOptions = {}) {
  const store = new SpyStore();
  return { store, system: await startSystem({ store, ...options }) };
}

describe('snapshots', () => {
  it('restores the newest snapshot after a crash and restart', async () => {
    const { system: sys } = await system();
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMessages: 1 } });
    ref.tell({ type: 'add', n: 5 });
    ref.tell({ type: 'add', n: 7 });
    expect(await ref.ask({ type: 'get' })).toBe(12);
    await until(() => sys.metrics().snapshots.written >= 2);
    ref.tell(CRASH);
    await until(() => sys.tree()[0]!.restarts === 1);
    expect(await ref.ask({ type: 'get' })).toBe(12);
    expect(sys.metrics().snapshots.restored).toBe(1);
  });

  it('ctx.snapshotNow() snapshots the state the handler returns and resolves once committed', async () => {
    const { system: sys, store } = await system();
    const ref = sys.spawn(Account, { name: 'acct', snapshot: {} });
    ref.tell({ type: 'add', n: 1 });
    ref.tell({ type: 'save' });
    await until(() => store.batches.length === 1);
    expect(store.own('/acct').map((r) => r.seq)).toEqual([1]);
    await sys.stop(ref);
    const again = sys.spawn(Account, { name: 'acct', snapshot: {} });
    expect(await again.ask({ type: 'get' })).toBe(1001);
  });

  it('writes the snapshots of one event-loop turn in one batch (group commit)', async () => {
    const { system: sys, store } = await system();
    const refs = Array.from({ length: 50 }, (_, i) => sys.spawn(Account, { name: `a${i}`, snapshot: {} }));
    for (const [i, r] of refs.entries()) r.tell({ type: 'add', n: i });
    await nextTurn();
    const seqs = await sys.checkpoint();
    expect(Object.keys(seqs)).toHaveLength(50);
    expect(store.batches).toHaveLength(1);
    expect(store.batches[0]).toHaveLength(50);
  });

  it('keeps only the last `keep` own snapshots', async () => {
    const { system: sys, store } = await system();
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMessages: 1, keep: 2 } });
    for (let i = 0; i < 5; i++) {
      ref.tell({ type: 'add', n: 1 });
      await until(() => store.batches.length === i + 1);
    }
    expect(sys.snapshots('/acct').map((s) => [s.seq, s.source])).toEqual([
      [5, 'own'],
      [4, 'own'],
    ]);
  });

  it('continues the seq numbering across restarts', async () => {
    const { system: sys, store } = await system();
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMessages: 1 } });
    ref.tell({ type: 'add', n: 1 });
    await until(() => store.batches.length === 1);
    ref.tell(CRASH);
    ref.tell({ type: 'add', n: 1 });
    await until(() => store.batches.length === 2);
    expect(store.own('/acct').map((r) => r.seq)).toEqual([2, 1]);
  });

  it('skips a corrupt snapshot for the next older valid one, counting it', async () => {
    const { system: sys, store } = await system();
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMessages: 1 } });
    ref.tell({ type: 'add', n: 5 });
    ref.tell({ type: 'add', n: 7 });
    await until(() => sys.metrics().snapshots.written === 2);
    store.corrupt.add('/acct#2#null');
    ref.tell(CRASH);
    await until(() => sys.tree()[0]!.restarts === 1);
    expect(await ref.ask({ type: 'get' })).toBe(5);
    expect(sys.metrics().snapshots.corrupt).toBe(1);
  });

  it("falls back to a partner's copy when the own snapshots are corrupt", async () => {
    const { system: sys, store } = await system();
    const Holder = defineActor({ receive() {} });
    sys.spawn(Holder, { name: 'replica' });
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMessages: 1 }, partners: ['/replica'] });
    ref.tell({ type: 'add', n: 9 });
    await until(() => sys.metrics().snapshots.written === 2); // own + replica
    store.corrupt.add('/acct#1#null');
    ref.tell(CRASH);
    await until(() => sys.tree().find((n) => n.name === 'acct')!.restarts === 1);
    expect(await ref.ask({ type: 'get' })).toBe(9);
    expect(sys.snapshots('/acct').map((s) => [s.seq, s.source, s.holder])).toEqual([
      [1, 'own', undefined],
      [1, 'replica', '/replica'],
    ]);
  });

  it("restores from a live partner's memory without reading the store when it holds the newest copy", async () => {
    const { system: sys, store } = await system();
    sys.spawn(defineActor({ receive() {} }), { name: 'replica' });
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMessages: 1 }, partners: ['/replica'] });
    ref.tell({ type: 'add', n: 4 });
    ref.tell({ type: 'add', n: 5 });
    await until(() => sys.metrics().snapshots.written === 4);
    const reads = store.reads;
    ref.tell(CRASH);
    await until(() => sys.tree().find((n) => n.name === 'acct')!.restarts === 1);
    expect(await ref.ask({ type: 'get' })).toBe(9);
    expect(store.reads).toBe(reads);
  });

  it("uses a dead partner's persisted replica, and starts from init when no copy is valid", async () => {
    const { system: sys, store } = await system();
    const Holder = defineActor({ receive() {} });
    const replica = sys.spawn(Holder, { name: 'replica' });
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMessages: 1 }, partners: ['/replica'] });
    ref.tell({ type: 'add', n: 3 });
    await until(() => sys.metrics().snapshots.written === 2);
    await sys.stop(replica);
    store.corrupt.add('/acct#1#null');
    ref.tell(CRASH);
    await until(() => sys.tree().find((n) => n.name === 'acct')!.restarts === 1);
    expect(await ref.ask({ type: 'get' })).toBe(3);
    // that ask was a handled message too: snapshot 2 (own + replica) follows; spoil every copy
    await until(() => sys.metrics().snapshots.written === 4);
    for (const key of ['/acct#1#/replica', '/acct#2#null', '/acct#2#/replica']) store.corrupt.add(key);
    ref.tell(CRASH);
    await until(() => sys.tree().find((n) => n.name === 'acct')!.restarts === 2);
    expect(await ref.ask({ type: 'get' })).toBe(0);
    expect(sys.metrics().snapshots.restoreFailures).toBe(1);
  });

  it('migrates a snapshot written by an older version and refuses a newer one', async () => {
    const { system: sys, store } = await system();
    const { snapshotRow } = await import('../../src/persistence/snapshot-codec.js');
    const row = (seq: number, version: number, state: unknown): SnapshotRow => snapshotRow({ path: '/acct', holder: null, seq, takenAt: 0, version }, state);
    store.writeBatch([row(1, 1, { cents: 4200 })]);
    const ref = sys.spawn(Account, { name: 'acct', snapshot: {} });
    expect(await ref.ask({ type: 'get' })).toBe(42);
    await sys.stop(ref);
    store.writeBatch([row(2, 3, { balance: 1, history: new Map() })]);
    const again = sys.spawn(Account, { name: 'acct', snapshot: {} });
    expect(await again.ask({ type: 'get' })).toBe(42); // version 3 skipped, version 1 migrated
    expect(sys.metrics().snapshots.corrupt).toBe(1);
  });

  it('rolls one actor back to a chosen snapshot while the others keep running', async () => {
    const { system: sys } = await system();
    const a = sys.spawn(Account, { name: 'a', snapshot: { everyMessages: 1, keep: 5 } });
    const b = sys.spawn(Account, { name: 'b', snapshot: {} });
    for (const n of [1, 10, 100]) a.tell({ type: 'add', n });
    b.tell({ type: 'add', n: 2 });
    await until(() => sys.metrics().snapshots.written === 3);
    await sys.restore('/a', { seq: 2 });
    expect(await a.ask({ type: 'get' })).toBe(11);
    expect(await b.ask({ type: 'get' })).toBe(2);
    await expect(sys.restore('/a', { seq: 99 })).rejects.toThrow(/no snapshot 99/);
  });

  it('snapshots every `everyMs` on the system clock', async () => {
    const clock = new SimulatedClock();
    const { system: sys, store } = await system({ clock });
    const ref = sys.spawn(Account, { name: 'acct', snapshot: { everyMs: 1000 } });
    ref.tell({ type: 'add', n: 4 });
    await nextTurn();
    clock.advance(999);
    await nextTurn();
    expect(store.batches).toHaveLength(0);
    clock.advance(1);
    await until(() => store.batches.length === 1);
    await sys.stop(ref);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses snapshot options without a store, and bad snapshot options, with ConfigError', async () => {
    const sys = await startSystem({ store: false });
    expect(() => sys.spawn(Account, { snapshot: {} })).toThrow(/store/);
    const { system: other } = await system();
    expect(() => other.spawn(Account, { snapshot: { everyMessages: 0 } })).toThrow(/snapshot\.everyMessages/);
    expect(() => other.spawn(Account, { partners: ['replica'] })).toThrow(/partners/);
    await expect(other.checkpoint('/nobody')).rejects.toThrow(ConfigError);
  });
});

describe('snapshots around crashes', () => {
  const Acc = defineActor<number, 'inc' | 'boom' | 'get' | 'slow'>({
    init: () => 0,
    async receive(n, m, ctx) {
      if (m === 'inc') return n + 1;
      if (m === 'boom') throw new Error('boom');
      if (m === 'slow') {
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('slow boom');
      }
      ctx.reply(n);
    },
  });

  it('restores a snapshot taken in the same turn as the crash, before it was committed', async () => {
    const sys = await startSystem();
    const ref = sys.spawn(Acc, { name: 'acc', snapshot: { everyMessages: 1 } });
    for (const m of ['inc', 'inc', 'inc', 'boom'] as const) ref.tell(m);
    expect(await ref.ask('get')).toBe(3);
  });

  it('ends a checkpoint whose actor crashes in the handler it waited for with CheckpointError naming it', async () => {
    const sys = await startSystem();
    const ref = sys.spawn(Acc, { name: 'a', restart: 'temporary', snapshot: {} });
    ref.tell('slow');
    await nextTurn();
    const error = await sys.checkpoint('/a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error).toMatchObject({ code: 'CHECKPOINT_INCOMPLETE', seqs: {}, missed: { '/a': expect.stringMatching(/handler it waited for failed/) } });
  });
});

describe('snapshots in a damaged store file', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const newFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'genesis-snapshots-'));
    dirs.push(dir);
    return join(dir, 'snapshots.db');
  };
  const damage = (file: string, sql: string) => {
    const raw = new Database(file);
    raw.exec(sql);
    raw.close();
  };

  it('skips a stored row whose seq is not a safe integer and keeps snapshotting other actors', async () => {
    for (const bad of ["'x'", '1.5', '9007199254740993']) {
      const file = newFile();
      let sys = await startSystem({ store: file });
      sys.spawn(Account, { name: 'a', snapshot: {} }).tell({ type: 'add', n: 5 });
      sys.spawn(Account, { name: 'b', snapshot: {} }).tell({ type: 'add', n: 7 });
      await nextTurn();
      expect(await sys.checkpoint()).toEqual({ '/a': 1, '/b': 1 });
      await sys.shutdown();
      damage(file, `UPDATE snapshots SET seq = ${bad} WHERE path = '/a'`);

      sys = await startSystem({ store: file });
      const a = sys.spawn(Account, { name: 'a', snapshot: {} });
      const b = sys.spawn(Account, { name: 'b', snapshot: {} });
      expect(await a.ask({ type: 'get' }), bad).toBe(0); // its only row is unusable: from init
      expect(await b.ask({ type: 'get' }), bad).toBe(7);
      expect(sys.metrics().snapshots.corrupt, bad).toBe(1);
      a.tell({ type: 'add', n: 2 });
      await nextTurn();
      expect(await sys.checkpoint(), bad).toEqual({ '/a': 1, '/b': 2 }); // both committed, in one batch
      expect(sys.metrics().snapshots.failed, bad).toBe(0);
      await sys.stop(a);
      expect(await sys.spawn(Account, { name: 'a', snapshot: {} }).ask({ type: 'get' }), bad).toBe(2);
      await sys.shutdown();
    }
  });

  it("restores an actor's own state when a damaged path or seq column hands it another row, counting that row as corrupt", async () => {
    const file = newFile();
    let sys = await startSystem({ store: file });
    const alice = sys.spawn(Account, { name: 'alice', snapshot: {} });
    const bob = sys.spawn(Account, { name: 'bob', snapshot: {} });
    alice.tell({ type: 'add', n: 100 });
    bob.tell({ type: 'add', n: 1 });
    await nextTurn();
    await sys.checkpoint(); // alice 1 (100), bob 1 (1)
    bob.tell({ type: 'add', n: 2 });
    await nextTurn();
    await sys.checkpoint('/bob'); // bob 2 (3)
    await sys.checkpoint('/alice'); // alice 2 (100)
    await sys.checkpoint('/alice'); // alice 3 (100)
    await sys.shutdown();
    // Alice's newest row now claims to be Bob's; Bob's oldest claims to be his newest.
    damage(file, "UPDATE snapshots SET path = '/bob' WHERE path = '/alice' AND seq = 3; UPDATE snapshots SET seq = 9 WHERE path = '/bob' AND seq = 1");

    sys = await startSystem({ store: file });
    const again = sys.spawn(Account, { name: 'bob', snapshot: { keep: 5 } });
    expect(await again.ask({ type: 'get' })).toBe(3);
    expect(sys.metrics().snapshots.corrupt).toBe(2);
    expect(sys.metrics().snapshots.restored).toBe(1);
  });
});

describe('bounded checkpoint and restore', () => {
  /** An actor whose 'hang' handler waits until the test calls release(). */
  function gate() {
    let release = () => {};
    const Gate = defineActor<number, 'inc' | 'hang' | 'get'>({
      init: () => 0,
      async receive(n, m, ctx) {
        if (m === 'inc') return n + 1;
        if (m === 'hang') {
          await new Promise<void>((resolve) => (release = resolve));
          return n + 100;
        }
        ctx.reply(n);
      },
    });
    return { Gate, release: () => release() };
  }

  it('rejects a checkpoint with CheckpointError naming the actor stuck in its handler once the timeout passes, committing the others', async () => {
    const clock = new SimulatedClock();
    const { system: sys, store } = await system({ clock });
    const { Gate, release } = gate();
    sys.spawn(Gate, { name: 'stuck', snapshot: {} }).tell('hang');
    sys.spawn(Gate, { name: 'fine', snapshot: {} }).tell('inc');
    await nextTurn();
    let settled = false;
    const outcome = sys
      .checkpoint()
      .catch((e: unknown) => e)
      .finally(() => (settled = true));
    await until(() => store.own('/fine').length === 1); // committed while the other one is stuck
    clock.advance(4999); // the default: the system's ask timeout, 5 s
    await nextTurn();
    expect(settled).toBe(false);
    clock.advance(1);
    await until(() => settled);
    const error = await outcome;
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error).toMatchObject({
      code: 'CHECKPOINT_INCOMPLETE',
      seqs: { '/fine': 1 },
      missed: { '/stuck': expect.stringMatching(/not snapshotted within 5000 ms: its handler in progress has not finished/) },
    });
    expect((error as Error).message).toContain('/stuck');

    // A timeout of its own, for one actor; bad options are refused.
    settled = false;
    const one = sys
      .checkpoint('/stuck', { timeoutMs: 50 })
      .catch((e: unknown) => e)
      .finally(() => (settled = true));
    clock.advance(49);
    await nextTurn();
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await one).toMatchObject({ code: 'CHECKPOINT_INCOMPLETE', seqs: {}, missed: { '/stuck': expect.stringMatching(/within 50 ms/) } });
    await expect(sys.checkpoint(undefined, { timeout: 5 } as never)).rejects.toThrow(/checkpoint\(options\)\.timeout.*unknown option/);
    await expect(sys.checkpoint('/fine', { timeoutMs: 0 })).rejects.toThrow(ConfigError);

    // Once the handler ends, the snapshot it was waiting for is taken after all.
    release();
    await until(() => store.own('/stuck').length === 1);
    expect(await sys.checkpoint()).toEqual({ '/fine': 2, '/stuck': 2 });
  });

  it('rejects a restore of an actor stuck in its handler with TimeoutError naming the path, and never applies it later', async () => {
    const clock = new SimulatedClock();
    const { system: sys } = await system({ clock });
    const { Gate, release } = gate();
    const ref = sys.spawn(Gate, { name: 'g', snapshot: {} });
    ref.tell('inc');
    await nextTurn();
    expect(await sys.checkpoint('/g')).toEqual({ '/g': 1 }); // state 1
    ref.tell('inc');
    ref.tell('hang'); // state 2, then stuck
    await nextTurn();
    let settled = false;
    const outcome = sys
      .restore('/g', { seq: 1 })
      .catch((e: unknown) => e)
      .finally(() => (settled = true));
    clock.advance(4999);
    await nextTurn();
    expect(settled).toBe(false);
    clock.advance(1);
    await until(() => settled);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', path: '/g', timeoutMs: 5000 });
    expect((error as Error).message).toMatch(/restore of \/g timed out after 5000 ms/);
    release();
    expect(await ref.ask('get')).toBe(102); // the handler's result stands: no late rollback to 1
    await expect(sys.restore('/g', { sq: 1 } as never)).rejects.toThrow(/restore\(options\)\.sq/);
    await expect(sys.restore('/g', { seq: 1.5 })).rejects.toThrow(ConfigError);
    await sys.restore('/g', { seq: 1, timeoutMs: 10 });
    expect(await ref.ask('get')).toBe(1);
  });
});
