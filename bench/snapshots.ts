/**
 * Snapshots suite: how many snapshots per second SqliteSnapshotStore commits, and how long a
 * restore takes, against the raw better-sqlite3 ceiling on the same rows (the "Node floor"
 * column). nact and XState have no snapshot store, so they are n/a.
 *
 * The rows are 1,000 actors' states of ~1 KB, encoded once with the snapshot codec (msgpackr)
 * before any timing, so both contestants write exactly the same bytes; a run times writeBatch /
 * the transaction only. Genesis writes through the store's public API with 'process' durability
 * (WAL, synchronous=NORMAL), retention on (keep 3): its file is kept across rounds, so after the
 * warm-up round every batch runs in the steady state where each new row replaces the oldest
 * one. The floor is the fastest plain bulk insert found for the same rows: a table with no index,
 * one prepared single-row INSERT per row in one transaction per batch, the same durability
 * (exclusive WAL, synchronous=NORMAL), 64 KB pages (faster than 16 KB for it, and than multi-row
 * INSERTs), no retention. Both files are kept across rounds, so both contestants pay their WAL
 * checkpoints (every 64 MB of WAL) inside timed runs. Files are in os.tmpdir(), deleted at teardown.
 *
 * Restore from a partner's memory: an actor spawned with `snapshot: {}` and `partners: ['/holder']`
 * whose newest snapshot the holder keeps in memory, in a system with a MemorySnapshotStore and in
 * one with SQLite ':memory:'. The Genesis figure is the whole synchronous spawn with restore (new
 * cell, init, store lookups, partner lookup, decode); the floor column is the least such a restore
 * must do, a Map lookup and decodeRow of the same bytes, outside any actor.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ActorSystem, defineActor, MemorySnapshotStore, type SystemOptions } from '../src/index.ts';
import { decodeRow, encodeState, sealRow } from '../src/persistence/snapshot-codec.ts';
import type { SnapshotRow } from '../src/persistence/snapshot-store.ts';
import { SqliteSnapshotStore } from '../src/persistence/sqlite-store.ts';
import { check, type Experiment, type Options, percentiles, size, type Suite } from './harness.ts';

const ACTORS = 1000;
const KEEP = 3;
/** Encoded states per actor, cycled through by seq (so consecutive rows differ). */
const VARIANTS = 4;
const perSecond = (count: number, ms: number) => (count / ms) * 1000;
const NO_STORE = 'no snapshot store to compare';
const COLUMNS = 'path, holder, seq, taken_at, version, codec, checksum, data';
const SILENT_LOGGER: SystemOptions['logger'] = { level: 'silent' };

/** A trading actor's state, ~1 KB encoded: a Map of positions, prices, orders, a Date. */
function state(actor: number, variant: number) {
  const positions = new Map<string, { qty: number; avg: number }>();
  for (let k = 0; k < 8; k++) positions.set(`SYM${(actor + k) % 50}`, { qty: k * 10 + variant, avg: 100 + k * 1.5 + actor / 1000 });
  return {
    id: actor,
    name: `trader-${actor}`,
    cash: 1_000_000 - actor * 17.25 - variant,
    positions,
    prices: Float64Array.from({ length: 80 }, (_, k) => 100 + k * 0.25 + variant + actor / 1e4),
    orders: Array.from({ length: 6 }, (_, k) => ({ id: `o-${actor}-${variant}-${k}`, side: k % 2 ? 'buy' : 'sell', qty: k + 1, limit: 99.5 + k })),
    updatedAt: new Date(1_700_000_000_000 + actor * 1000 + variant),
  };
}

/** The encoded states, built once for the suite: encoded[actor][variant]. */
let encodedStates: ReturnType<typeof encodeState>[][] | undefined;
function encoded(): ReturnType<typeof encodeState>[][] {
  if (encodedStates === undefined) {
    encodedStates = Array.from({ length: ACTORS }, (_, a) => Array.from({ length: VARIANTS }, (_, v) => encodeState(state(a, v))));
    const bytes = encodedStates.flat().map((e) => e.data.length);
    check(Math.min(...bytes) >= 900 && Math.max(...bytes) <= 1200, `states ~1 KB encoded (${Math.min(...bytes)}–${Math.max(...bytes)} B)`);
  }
  return encodedStates;
}

const paths = Array.from({ length: ACTORS }, (_, a) => `/trading/desk-${a % 10}/trader-${a}`);

/** `count` rows, every actor once per ACTORS rows, seqs continuing from `firstSeq`. */
function makeRows(count: number, firstSeq: number): SnapshotRow[] {
  const states = encoded();
  const rows: SnapshotRow[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + Math.floor(i / ACTORS);
    const a = i % ACTORS;
    rows[i] = sealRow({ path: paths[a]!, holder: null, seq, takenAt: 1_700_000_000_000 + seq, version: 1 }, states[a]![seq % VARIANTS]!);
  }
  return rows;
}

function tempDir(): string {
  return mkdtempSync(join(os.tmpdir(), 'genesis-bench-snapshots-'));
}

/** The floor's connection: the same durability as the store's 'process', tuned for appends. */
function rawDatabase(file: string, pageSize: number): Database.Database {
  const db = new Database(file);
  db.pragma(`page_size = ${pageSize}`);
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

interface RawWriter {
  db: Database.Database;
  write: (rows: SnapshotRow[], from: number, to: number) => void;
  written: number;
}

/** The floor's writer: a plain table, no index, one prepared single-row INSERT. */
function rawWriter(dirs: string[]): RawWriter {
  const dir = tempDir();
  dirs.push(dir);
  const db = rawDatabase(join(dir, 'raw.db'), 65536);
  db.exec(
    'CREATE TABLE snapshots (path TEXT NOT NULL, holder TEXT NOT NULL, seq INTEGER NOT NULL, taken_at INTEGER NOT NULL, version INTEGER NOT NULL, codec TEXT NOT NULL, checksum INTEGER NOT NULL, data BLOB NOT NULL)',
  );
  const insert = db.prepare(`INSERT INTO snapshots (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const write = db.transaction((rows: SnapshotRow[], from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const r = rows[i]!;
      insert.run(r.path, '', r.seq, r.takenAt, r.version, r.codec, r.checksum, r.data);
    }
  });
  return { db, write, written: 0 };
}

// ---- 1 and 2. writes -------------------------------------------------------------------

function writes(o: Options, batch: number): Experiment {
  const count = size(40_000, o, batch);
  const dirs: string[] = [];
  let store: SqliteSnapshotStore | undefined;
  let nextSeq = 1;
  let raw: RawWriter | undefined;
  let nextRawSeq = 1;
  const describe = `${count.toLocaleString('en-US')} rows of ${ACTORS.toLocaleString('en-US')} actors (each actor once per ${ACTORS} rows), ${batch} rows per batch/transaction, states ~1 KB encoded before timing`;
  return {
    title: `snapshot writes, ${batch} per batch`,
    figures: [{ metric: 'rate', label: 'snapshots/s', unit: 'msg/s', better: 'higher', target: '≥ 0.1 M/s or ≥ 80% of floor' }],
    notes: {
      genesis: `${describe}; SqliteSnapshotStore.writeBatch(rows), durability 'process', retention keep ${KEEP} (steady state: every row replaces its actor's oldest); one file kept across rounds; checked: each actor's newest seq and ${KEEP} rows kept`,
      nact: NO_STORE,
      xstateTransition: NO_STORE,
      xstateMachine: NO_STORE,
      floor: `${describe}; raw better-sqlite3, plain table without index, prepared single-row INSERT, one transaction per batch, exclusive WAL + synchronous=NORMAL, 64 KB pages (WAL auto-checkpoint at 64 MB, as the store), no retention (the table only grows); one file kept across rounds, so both pay their WAL checkpoints inside the timed runs; checked: row count`,
    },
    contestants: {
      async genesis() {
        if (store === undefined) {
          const dir = tempDir();
          dirs.push(dir);
          store = new SqliteSnapshotStore({ path: join(dir, 'snapshots.db'), durability: 'process' });
        }
        const rows = makeRows(count, nextSeq);
        const batches: SnapshotRow[][] = [];
        for (let i = 0; i < count; i += batch) batches.push(rows.slice(i, i + batch));
        const t0 = performance.now();
        for (const b of batches) store.writeBatch(b);
        const ms = performance.now() - t0;
        nextSeq = rows[count - 1]!.seq + 1;
        const kept = store.own(paths[(count - 1) % ACTORS]!);
        check(kept.length === KEEP && kept[0]!.seq === nextSeq - 1, 'Genesis: newest seq stored, keep 3');
        return { rate: perSecond(count, ms) };
      },
      nact: { na: NO_STORE },
      xstateTransition: { na: NO_STORE },
      xstateMachine: { na: NO_STORE },
      async floor() {
        raw ??= rawWriter(dirs);
        const rows = makeRows(count, nextRawSeq);
        const t0 = performance.now();
        for (let i = 0; i < count; i += batch) raw.write(rows, i, Math.min(count, i + batch));
        const ms = performance.now() - t0;
        nextRawSeq = rows[count - 1]!.seq + 1;
        raw.written += count;
        check(raw.db.prepare('SELECT count(*) FROM snapshots').pluck().get() === raw.written, 'floor: row count');
        return { rate: perSecond(count, ms) };
      },
    },
    async teardown() {
      store?.close();
      raw?.db.close();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- 3. restore ------------------------------------------------------------------------

function restore(o: Options): Experiment {
  const count = size(20_000, o);
  let file: string | undefined;
  let dir: string | undefined;
  /** The file both contestants read: 1,000 actors × keep 3 rows (+ 1 ignored replica each). */
  function fixture(): string {
    if (file !== undefined) return file;
    dir = tempDir();
    file = join(dir, 'snapshots.db');
    const store = new SqliteSnapshotStore({ path: file });
    for (let seq = 1; seq <= 5; seq++) store.writeBatch(makeRows(ACTORS, seq));
    store.writeBatch(makeRows(ACTORS, 9).map((r) => ({ ...r, holder: '/partner' })));
    store.close();
    return file;
  }
  /** Actor for the i-th restore: a fixed stride through all of them. */
  const actor = (i: number) => (i * 7919) % ACTORS;
  const describe = `${count.toLocaleString('en-US')} restores in sequence of actors taken in a fixed scattered order from ${ACTORS.toLocaleString('en-US')} (each with ${KEEP} own rows and 1 replica, same file), each timed with performance.now()`;
  return {
    title: 'snapshot restore',
    figures: [
      { metric: 'p50', label: 'latest own row p50', unit: 'µs', better: 'lower', target: '≤ 60 µs incl. decode' },
      { metric: 'p99', label: 'latest own row p99', unit: 'µs', better: 'lower' },
    ],
    notes: {
      genesis: `${describe}; store.own(path, 1)[0] then decodeRow (CRC32 check + msgpackr decode of ~1 KB to Map, Float64Array, Date…); checked: decoded id and seq`,
      nact: NO_STORE,
      xstateTransition: NO_STORE,
      xstateMachine: NO_STORE,
      floor: `${describe}; raw better-sqlite3 on the same file (exclusive WAL), prepared \`SELECT … WHERE path = ? AND holder = '' ORDER BY seq DESC LIMIT 1\` in raw mode, no decode; checked: seq`,
    },
    contestants: {
      async genesis() {
        const store = new SqliteSnapshotStore({ path: fixture() });
        const latencies = new Float64Array(count);
        for (let i = 0; i < count; i++) {
          const path = paths[actor(i)]!;
          const t = performance.now();
          const value = decodeRow(store.own(path, 1)[0]!) as { id: number };
          latencies[i] = (performance.now() - t) * 1000;
          if (value.id !== actor(i)) throw new Error(`restored ${path} as actor ${value.id}`);
        }
        check(store.own(paths[0]!, 1)[0]!.seq === 5, 'Genesis: newest own seq');
        store.close();
        return percentiles(latencies);
      },
      nact: { na: NO_STORE },
      xstateTransition: { na: NO_STORE },
      xstateMachine: { na: NO_STORE },
      async floor() {
        const db = rawDatabase(fixture(), 16384);
        const select = db.prepare<[string], unknown[]>(`SELECT ${COLUMNS} FROM snapshots WHERE path = ? AND holder = '' ORDER BY seq DESC LIMIT 1`).raw();
        const latencies = new Float64Array(count);
        for (let i = 0; i < count; i++) {
          const path = paths[actor(i)]!;
          const t = performance.now();
          const raw = select.get(path);
          latencies[i] = (performance.now() - t) * 1000;
          if (raw?.[2] !== 5) throw new Error(`floor: ${path} newest seq ${String(raw?.[2])}`);
        }
        db.close();
        return percentiles(latencies);
      },
    },
    async teardown() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- 4 and 5. restore from a partner's memory -------------------------------------------

/** A snapshotting actor: its state is the last message told; replies with its state's id to 'id'. */
const Trader = defineActor<unknown, unknown>({
  init: () => null,
  receive(state, message, ctx) {
    if (message === 'id') {
      ctx.reply((state as { id: number } | null)?.id);
      return;
    }
    return message;
  },
});

/** The partner: holds the traders' newest snapshots in memory (the runtime does that for it). */
const Holder = defineActor<undefined, unknown>({ receive() {} });

const HOLDER = '/holder';
const partnerPaths = Array.from({ length: ACTORS }, (_, a) => `/trader-${a}`);
/** The traders' spawn options, one object per name, made once. `breaker: false`: the untimed
 *  check ask after each restore would otherwise create a breaker per incarnation. */
const traderOptions = partnerPaths.map((path) => ({ name: path.slice(1), snapshot: {}, partners: [HOLDER], breaker: false as const }));

type PartnerStore = 'memory' | 'sqlite';
const openStore = (kind: PartnerStore) => (kind === 'memory' ? new MemorySnapshotStore() : ':memory:');

/**
 * A system whose holder keeps, in memory, one snapshot (seq 1, variant 1, ~1 KB) of each of the
 * ACTORS traders, the same snapshot also being in the store as an own row and a replica row; the
 * traders are then stopped, so each spawn of a trader's name restores it.
 */
async function partnerSystem(kind: PartnerStore, logger: SystemOptions['logger'] = SILENT_LOGGER): Promise<ActorSystem> {
  const system = await ActorSystem.start({ logger, store: openStore(kind) });
  system.spawn(Holder, { name: HOLDER.slice(1) });
  const refs = traderOptions.map((options) => system.spawn(Trader, options));
  for (const [a, ref] of refs.entries()) ref.tell(state(a, 1));
  const ids = await Promise.all(refs.map((ref) => ref.ask<number>('id'))); // the states are in
  check(
    ids.every((id, a) => id === a),
    'every trader holds its state',
  );
  const seqs = await system.checkpoint();
  check(Object.keys(seqs).length === ACTORS && Object.values(seqs).every((seq) => seq === 1), 'every trader snapshotted once');
  const stored = system.snapshots(partnerPaths[0]!);
  check(stored.length === 2 && stored.every((s) => s.seq === 1 && s.size === encoded()[0]![1]!.data.length), 'own + replica rows, same bytes as the floor');
  for (const ref of refs) await system.stop(ref);
  return system;
}

const verifiedSources = new Set<PartnerStore>();

/** Once per store kind: a restore picks the partner's memory copy (read from its info log line). */
async function verifyPartnerSource(kind: PartnerStore): Promise<void> {
  if (verifiedSources.has(kind)) return;
  const lines: { msg?: string; source?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const system = await partnerSystem(kind, logger);
  const ref = system.spawn(Trader, traderOptions[7]!);
  check((await ref.ask<number>('id')) === 7, 'restored state');
  await system.shutdown();
  const restored = lines.filter((l) => l.msg?.startsWith(`restored ${partnerPaths[7]} `));
  check(restored.length === 1 && restored[0]!.source === 'partner-memory', `restored from partner memory (got ${restored.map((l) => l.source).join(', ')})`);
  verifiedSources.add(kind);
}

function partnerRestore(o: Options, kind: PartnerStore): Experiment {
  const count = size(20_000, o);
  const actor = (i: number) => (i * 7919) % ACTORS;
  let held: Map<string, SnapshotRow> | undefined;
  const storeText = kind === 'memory' ? 'MemorySnapshotStore' : "SQLite ':memory:'";
  const describe = `${count.toLocaleString('en-US')} restores in sequence of ${ACTORS.toLocaleString('en-US')} actors' ~1 KB states (the restore suite's states), taken in the same scattered order, each timed with performance.now()`;
  return {
    title: `snapshot restore from partner memory, ${storeText} [floor: Map.get + decodeRow]`,
    figures: [
      { metric: 'p50', label: 'spawn + restore p50', unit: 'µs', better: 'lower', target: '≤ 20 µs' },
      { metric: 'p99', label: 'spawn + restore p99', unit: 'µs', better: 'lower' },
    ],
    notes: {
      genesis:
        `${describe}; system started with store: ${kind === 'memory' ? 'new MemorySnapshotStore()' : "':memory:'"}; a Holder actor at ${HOLDER} holds each trader's newest snapshot in memory (seq 1, also in the store as own + replica rows); ` +
        `the timed part is system.spawn(Trader, { name, snapshot: {}, partners: ['${HOLDER}'], breaker: false }): the new cell, init, and the restore (the store's own rows, replicas and maxSeq, ` +
        `the partner's memory, then decodeRow of the winner: the partner's copy, which wins ties), all synchronous. Untimed after each: ask('id') checks the state, system.stop(ref). ` +
        `Checked once per run beforehand, with an info logger: the restore's source is 'partner-memory'; after the run: metrics().snapshots.restored === ${count.toLocaleString('en-US')}, no corrupt row`,
      nact: NO_STORE,
      xstateTransition: NO_STORE,
      xstateMachine: NO_STORE,
      floor: `${describe}; Map.get(path) on a Map of the same encoded rows, then decodeRow (CRC32 + msgpackr decode): the least a restore from memory decodes, no actor; checked: decoded id`,
    },
    contestants: {
      async genesis() {
        await verifyPartnerSource(kind);
        const system = await partnerSystem(kind);
        const before = system.metrics().snapshots;
        const latencies = new Float64Array(count);
        for (let i = 0; i < count; i++) {
          const a = actor(i);
          const t = performance.now();
          const ref = system.spawn(Trader, traderOptions[a]!);
          latencies[i] = (performance.now() - t) * 1000;
          const id = await ref.ask<number>('id');
          if (id !== a) throw new Error(`restored ${partnerPaths[a]} as actor ${id}`);
          await system.stop(ref);
        }
        const after = system.metrics().snapshots;
        check(after.restored - before.restored === count && after.corrupt === 0 && after.restoreFailures === 0, 'Genesis: every spawn restored');
        await system.shutdown();
        return percentiles(latencies);
      },
      nact: { na: NO_STORE },
      xstateTransition: { na: NO_STORE },
      xstateMachine: { na: NO_STORE },
      async floor() {
        held ??= new Map(partnerPaths.map((path, a) => [path, sealRow({ path, holder: HOLDER, seq: 1, takenAt: 1_700_000_000_000, version: 1 }, encoded()[a]![1]!)]));
        const latencies = new Float64Array(count);
        for (let i = 0; i < count; i++) {
          const a = actor(i);
          const t = performance.now();
          const value = decodeRow(held.get(partnerPaths[a]!)!) as { id: number };
          latencies[i] = (performance.now() - t) * 1000;
          if (value.id !== a) throw new Error(`floor: decoded ${partnerPaths[a]} as actor ${value.id}`);
        }
        return percentiles(latencies);
      },
    },
  };
}

export const snapshots: Suite = {
  name: 'snapshots',
  experiments: (o) => [writes(o, 1000), writes(o, 100), restore(o), partnerRestore(o, 'memory'), partnerRestore(o, 'sqlite')],
};
